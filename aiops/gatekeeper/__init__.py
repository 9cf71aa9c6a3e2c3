"""The gatekeeper: OPA-decided, approval-gated, exactly-once execution of proposed actions, with an audit trail."""
