"""`aiops mcp`: a Model Context Protocol server over the handbook, incidents, proposals and decisions; it can
propose an action (to aiops.proposals, where the gate decides), never approve or execute one."""
