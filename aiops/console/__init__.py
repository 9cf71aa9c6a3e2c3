"""The on-call console: incidents, evidence and proposals from the output topics, live, and approvals signed in
the browser with a key the policy bundle knows, sent through the same approvals path as every other tool."""
