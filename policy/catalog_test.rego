# METADATA
# title: Tests for the action catalog
package aiops.catalog_test

import data.aiops.catalog
import data.aiops.fixtures_test as fx

_expected := {
	"read_only": {"collect_diagnostics", "get_pod_logs", "query_metrics", "capture_thread_dump"},
	"state_changing": {"restart_deployment", "scale_deployment", "rollback_deployment", "toggle_feature_flag", "flush_cache"},
	"destructive": {"failover_database", "drain_node", "purge_queue", "promote_autonomy"},
}

test_allow_every_catalog_action_is_fully_configured if {
	count(data.aiops.actions) == 13
	every risk_class, names in _expected {
		every name in names {
			data.aiops.actions[name].risk_class == risk_class
			count(data.aiops.actions[name].approver_groups) > 0
			data.aiops.actions[name].max_blast_radius >= 1
			data.aiops.actions[name].max_executions_per_target_per_hour >= 1
			is_object(data.aiops.allowlist[name])
		}
	}
	data.aiops.actions.failover_database.approver_groups == ["dba", "sre"]
	data.aiops.freeze_windows == []
	data.aiops.approvers == {}
	is_string(data.aiops.policy.revision)
}

test_allow_required_approvals_follow_risk_class if {
	catalog.required_approvals == 0 with input as {"proposal": {"action": "query_metrics"}}
	catalog.required_approvals == 1 with input as {"proposal": {"action": "toggle_feature_flag"}}
	catalog.required_approvals == 2 with input as {"proposal": {"action": "failover_database"}}
}

test_deny_unknown_action if {
	d := fx.decide(object.union(fx.input_for("restart_deployment", []), {"proposal": {"action": "delete_namespace"}}))
	d.allow == false
	d.reasons == ["action delete_namespace is not in the action catalog"]
	d.risk_class == "unknown"
	d.required_approvals == null
}

test_deny_input_claiming_lower_risk_class if {
	inp := fx.input_for("failover_database", [fx.approve("kid-carol", "failover_database")])
	d := fx.decide(object.union(inp, {"proposal": {"risk_class": "read_only"}}))
	d.allow == false
	d.risk_class == "destructive"
	d.required_approvals == 2
	d.reasons == ["destructive action needs 2 approvals from distinct people, has 1"]
}

test_deny_invalid_risk_class_in_catalog if {
	d := fx.decide(fx.input_for("collect_diagnostics", [])) with data.aiops.actions.collect_diagnostics.risk_class as "harmless"
	d.allow == false
	d.reasons == ["action collect_diagnostics has an invalid risk class harmless in the action catalog"]
	d.risk_class == "unknown"
}

test_deny_catalog_entry_that_is_not_an_object if {
	inp := fx.input_for("collect_diagnostics", [])
	d := fx.decide(inp) with data.aiops.actions.collect_diagnostics as "read_only"
	d.allow == false
	"action collect_diagnostics is not in the action catalog" in d.reasons
}
