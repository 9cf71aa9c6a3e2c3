# METADATA
# title: Tests for proposal expiry, freezes, allowlist, rate limit and blast radius
package aiops.guardrails_test

import data.aiops.fixtures_test as fx

_approved(action) := fx.input_for(action, [fx.approve("kid-alice", action)])

_freeze(environments, reason) := {
	"start": "2026-11-26T00:00:00Z",
	"end": "2026-11-27T00:00:00Z",
	"environments": environments,
	"reason": reason,
}

# --- proposal expiry ---

test_deny_proposal_expired if {
	inp := object.union(_approved("restart_deployment"), {"now_ns": time.parse_rfc3339_ns("2026-11-26T12:00:00Z")})
	d := fx.decide(inp)
	d.allow == false
	"proposal expired at 2026-11-26T11:00:00Z" in d.reasons
}

test_deny_proposal_expiring_exactly_now if {
	inp := object.union(fx.input_for("collect_diagnostics", []), {"now_ns": time.parse_rfc3339_ns("2026-11-26T11:00:00Z")})
	d := fx.decide(inp)
	d.allow == false
	d.reasons == ["proposal expired at 2026-11-26T11:00:00Z"]
}

# --- change freeze ---

test_deny_change_freeze if {
	d := fx.decide(_approved("restart_deployment")) with data.aiops.freeze_windows as [_freeze(["prod"], "Black Friday")]
	d.allow == false
	d.reasons == ["change freeze in prod: Black Friday"]
}

test_deny_change_freeze_on_destructive_action if {
	inp := fx.input_for("drain_node", [fx.approve("kid-alice", "drain_node"), fx.approve("kid-bob", "drain_node")])
	d := fx.decide(inp) with data.aiops.freeze_windows as [_freeze(["*"], "Black Friday")]
	d.allow == false
	d.reasons == ["change freeze in prod: Black Friday"]
}

test_deny_change_freeze_without_reason if {
	window := json.remove(_freeze(["prod"], ""), ["reason"])
	d := fx.decide(_approved("restart_deployment")) with data.aiops.freeze_windows as [window]
	d.allow == false
	d.reasons == ["change freeze in prod: no reason given"]
}

test_allow_read_only_action_during_freeze if {
	d := fx.decide(fx.input_for("get_pod_logs", [])) with data.aiops.freeze_windows as [_freeze(["prod"], "Black Friday")]
	d.allow == true
}

test_allow_freeze_in_other_environment if {
	d := fx.decide(_approved("restart_deployment")) with data.aiops.freeze_windows as [_freeze(["staging"], "load test")]
	d.allow == true
}

test_allow_freeze_window_not_active if {
	past := object.union(_freeze(["prod"], "last week"), {"start": "2026-11-19T00:00:00Z", "end": "2026-11-26T10:30:00Z"})
	future := object.union(_freeze(["prod"], "tomorrow"), {"start": "2026-11-26T10:30:00.000000001Z"})
	d := fx.decide(_approved("restart_deployment")) with data.aiops.freeze_windows as [past, future]
	d.allow == true
}

test_deny_malformed_freeze_window if {
	window := object.union(_freeze(["prod"], "typo"), {"start": "26/11/2026"})
	d := fx.decide(_approved("restart_deployment")) with data.aiops.freeze_windows as [window]
	d.allow == false
	d.reasons == ["freeze window 0 in the bundle data is malformed (needs RFC3339 start and end and an environments list); only read-only actions are allowed"]
	ro := fx.decide(fx.input_for("collect_diagnostics", [])) with data.aiops.freeze_windows as [window]
	ro.allow == true
}

test_deny_freeze_windows_not_an_array if {
	d := fx.decide(_approved("restart_deployment")) with data.aiops.freeze_windows as {"start": "2026-11-26T00:00:00Z"}
	d.allow == false
	d.reasons == ["data.aiops.freeze_windows must be an array; only read-only actions are allowed"]
}

# --- capability allowlist ---

test_deny_environment_outside_allowlist if {
	inp := object.union(_approved("restart_deployment"), {"proposal": {"target": {"environment": "sandbox"}}})
	d := fx.decide(inp)
	d.allow == false
	d.reasons == ["target environment sandbox not allowed for action restart_deployment"]
}

test_deny_namespace_outside_allowlist if {
	entry := {"environments": ["prod"], "namespaces": ["payments"]}
	d := fx.decide(_approved("restart_deployment")) with data.aiops.allowlist.restart_deployment as entry
	d.allow == false
	d.reasons == ["target namespace shop not allowed for action restart_deployment"]
}

test_allow_wildcard_environment_and_listed_namespace if {
	entry := {"environments": ["*"], "namespaces": ["payments", "shop"]}
	d := fx.decide(_approved("restart_deployment")) with data.aiops.allowlist.restart_deployment as entry
	d.allow == true
}

test_deny_malformed_allowlist_entry if {
	entry := {"environments": "prod", "namespaces": "*"}
	d := fx.decide(_approved("restart_deployment")) with data.aiops.allowlist.restart_deployment as entry
	d.allow == false
	"target environment prod not allowed for action restart_deployment" in d.reasons
	"target namespace shop not allowed for action restart_deployment" in d.reasons
}

test_deny_action_without_allowlist_entry if {
	d := fx.decide(fx.input_for("collect_diagnostics", [])) with data.aiops.allowlist as {}
	d.allow == false
	d.reasons == ["action collect_diagnostics has no allowlist entry"]
}

# --- per-target rate limit ---

test_deny_rate_limit if {
	inp := object.union(_approved("restart_deployment"), {"context": {"recent_executions_for_target": 3}})
	d := fx.decide(inp)
	d.allow == false
	d.reasons == ["rate limit: 3 executions on target in the last hour (max 3)"]
}

test_allow_rate_limit_below_max if {
	inp := object.union(_approved("restart_deployment"), {"context": {"recent_executions_for_target": 2}})
	d := fx.decide(inp)
	d.allow == true
}

test_deny_rate_limit_global_default if {
	inp := object.union(_approved("restart_deployment"), {"context": {"recent_executions_for_target": 5}})
	actions := json.remove(data.aiops.actions, ["restart_deployment/max_executions_per_target_per_hour"])
	d := fx.decide(inp) with data.aiops.actions as actions with data.aiops.limits.max_executions_per_target_per_hour as 5
	d.allow == false
	d.reasons == ["rate limit: 5 executions on target in the last hour (max 5)"]
}

test_deny_without_rate_limit_configured if {
	actions := json.remove(data.aiops.actions, ["restart_deployment/max_executions_per_target_per_hour"])
	d := fx.decide(_approved("restart_deployment")) with data.aiops.actions as actions with data.aiops.limits as {"max_blast_radius": 10}
	d.allow == false
	d.reasons == ["no valid rate limit is configured for action restart_deployment"]
}

# --- blast radius ---

test_deny_blast_radius_over_cap if {
	inp := object.union(_approved("restart_deployment"), {"proposal": {"blast_radius": 40}})
	d := fx.decide(inp)
	d.allow == false
	d.reasons == ["blast radius 40 exceeds cap 10"]
}

test_deny_blast_radius_says_where_the_number_came_from if {
	basis := "the action catalog's worst case; platform-ctl could not be asked: timeout"
	inp := object.union(_approved("restart_deployment"), {"proposal": {"blast_radius": 50, "blast_radius_basis": basis}})
	d := fx.decide(inp)
	d.reasons == [sprintf("blast radius 50 (%s) exceeds cap 10", [basis])]
}

test_allow_blast_radius_at_cap if {
	inp := object.union(_approved("restart_deployment"), {"proposal": {"blast_radius": 10}})
	d := fx.decide(inp)
	d.allow == true
}

test_deny_blast_radius_global_cap if {
	actions := json.remove(data.aiops.actions, ["flush_cache/max_blast_radius"])
	inp := object.union(_approved("flush_cache"), {"proposal": {"blast_radius": 3}})
	d := fx.decide(inp) with data.aiops.actions as actions with data.aiops.limits.max_blast_radius as 2
	d.allow == false
	d.reasons == ["blast radius 3 exceeds cap 2"]
}

test_deny_without_blast_radius_cap_configured if {
	d := fx.decide(_approved("flush_cache")) with data.aiops.actions.flush_cache.max_blast_radius as "ten"
	d.allow == false
	d.reasons == ["no valid blast radius cap is configured for action flush_cache"]
}
