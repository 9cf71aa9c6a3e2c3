# METADATA
# title: Tests for the gate decision
package aiops.gate_test

import data.aiops.fixtures_test as fx

test_allow_read_only_without_approval if {
	d := fx.decide(fx.input_for("collect_diagnostics", []))
	d == {
		"allow": true,
		"reasons": [],
		"risk_class": "read_only",
		"required_approvals": 0,
		"valid_approvers": [],
		"rejected_approvals": [],
		"rejected_by": [],
		"policy_revision": "2026-11-26.1",
		"autonomy_grant": null,
	}
}

test_allow_read_only_without_approvals_field if {
	inp := json.remove(fx.input_for("get_pod_logs", []), ["approvals"])
	d := fx.decide(inp)
	d.allow == true
}

test_allow_state_changing_with_one_approval if {
	d := fx.decide(fx.input_for("restart_deployment", [fx.approve("kid-alice", "restart_deployment")]))
	d.allow == true
	d.reasons == []
	d.risk_class == "state_changing"
	d.required_approvals == 1
	d.valid_approvers == ["alice"]
	d.rejected_approvals == []
}

test_allow_destructive_with_two_distinct_approvers if {
	d := fx.decide(fx.input_for("failover_database", [
		fx.approve("kid-carol", "failover_database"),
		fx.approve("kid-alice", "failover_database"),
	]))
	d.allow == true
	d.reasons == []
	d.risk_class == "destructive"
	d.required_approvals == 2
	d.valid_approvers == ["alice", "carol"]
}

test_allow_invalid_extra_approval_is_reported_but_not_blocking if {
	forged := fx.sign_as("kid-bob", "kid-mallory", fx.claims("kid-bob", "restart_deployment", "approve"))
	d := fx.decide(fx.input_for("restart_deployment", [
		fx.approve("kid-alice", "restart_deployment"),
		fx.event(forged, "approve"),
	]))
	d.allow == true
	d.reasons == []
	d.valid_approvers == ["alice"]
	d.rejected_approvals == [{"index": 1, "kid": "kid-bob", "reason": "signature does not verify with key kid-bob"}]
}

test_deny_state_changing_without_approval if {
	d := fx.decide(fx.input_for("restart_deployment", []))
	d.allow == false
	d.reasons == ["state_changing action needs 1 approval, has 0"]
	d.required_approvals == 1
}

test_deny_destructive_with_single_approval if {
	d := fx.decide(fx.input_for("purge_queue", [fx.approve("kid-alice", "purge_queue")]))
	d.allow == false
	d.reasons == ["destructive action needs 2 approvals from distinct people, has 1"]
	d.valid_approvers == ["alice"]
}

test_deny_destructive_two_approvals_by_same_person if {
	d := fx.decide(fx.input_for("drain_node", [
		fx.approve("kid-alice", "drain_node"),
		fx.approve("kid-alice", "drain_node"),
	]))
	d.allow == false
	d.reasons == ["destructive action needs 2 approvals from distinct people, has 1"]
}

test_deny_destructive_same_person_with_two_keys if {
	d := fx.decide(fx.input_for("drain_node", [
		fx.approve("kid-alice", "drain_node"),
		fx.approve("kid-alice-laptop", "drain_node"),
	]))
	d.allow == false
	d.reasons == ["destructive action needs 2 approvals from distinct people, has 1"]
	d.valid_approvers == ["alice"]
}

test_deny_destructive_with_second_approval_invalid if {
	d := fx.decide(fx.input_for("failover_database", [
		fx.approve("kid-carol", "failover_database"),
		fx.approve("kid-bob", "failover_database"),
	]))
	d.allow == false
	d.reasons == [
		"approval 1: bob is not in a group allowed to approve failover_database (dba, sre)",
		"destructive action needs 2 approvals from distinct people, has 1",
	]
}

test_deny_rejection if {
	d := fx.decide(fx.input_for("restart_deployment", [
		fx.approve("kid-alice", "restart_deployment"),
		fx.reject("kid-bob", "restart_deployment"),
	]))
	d.allow == false
	d.reasons == ["approval 1: bob rejected this action"]
	d.valid_approvers == ["alice"]
	d.rejected_by == ["bob"]
}

test_deny_rejection_of_read_only_action if {
	d := fx.decide(fx.input_for("query_metrics", [fx.reject("kid-dave", "query_metrics")]))
	d.allow == false
	d.reasons == ["approval 0: dave rejected this action"]
}

test_deny_approval_after_proposal_expiry if {
	late := time.parse_rfc3339_ns("2026-11-26T11:05:00Z")
	token_claims := object.union(
		fx.claims("kid-alice", "restart_deployment", "approve"),
		{"exp": floor(late / 1000000000) + 600},
	)
	base := fx.input_for("restart_deployment", [fx.event(fx.sign("kid-alice", token_claims), "approve")])
	d := fx.decide(object.union(base, {"now_ns": late}))
	d.allow == false
	d.reasons == ["proposal expired at 2026-11-26T11:00:00Z"]
	d.valid_approvers == ["alice"]
}

test_deny_reasons_are_sorted_and_unique if {
	inp := object.union(fx.input_for("restart_deployment", []), {
		"proposal": {"blast_radius": 40},
		"context": {"recent_executions_for_target": 9},
	})
	d := fx.decide(inp)
	d.allow == false
	d.reasons == [
		"blast radius 40 exceeds cap 10",
		"rate limit: 9 executions on target in the last hour (max 3)",
		"state_changing action needs 1 approval, has 0",
	]
}

test_deny_reports_policy_revision if {
	d := fx.decide(fx.input_for("restart_deployment", [])) with data.aiops.policy.revision as "test-rev"
	d.policy_revision == "test-rev"
	d2 := fx.decide(fx.input_for("restart_deployment", [])) with data.aiops.policy as {}
	d2.policy_revision == "unknown"
}

test_deny_when_a_check_is_not_positively_satisfied if {
	# Even without any deny reason, the gate does not allow unless every
	# check is positively satisfied.
	d := fx.decide(fx.input_for("collect_diagnostics", [])) with data.aiops.guardrails.ok as false
	d.allow == false
	d.reasons == ["the policy could not establish that this action is allowed"]
}
