# METADATA
# title: Tests for earned autonomy (promotion, autonomy in the gate, demotion)
package aiops.earned_autonomy_test

import data.aiops.earned_autonomy as autonomy
import data.aiops.fixtures_test as fx

_day_s := 86400

# A record that meets the bundle's default rule exactly at every boundary.
_record(overrides) := object.union(
	{
		"action": "restart_deployment", "environment": "prod", "namespace": "shop",
		"approved_executions": 20, "helpful": 18, "no_effect": 2, "harmful": 0,
		"first_execution_s": 1000000, "last_execution_s": 1000000 + (14 * _day_s),
	},
	overrides,
)

_promotion(overrides) := p if {
	p := autonomy.promotion with input as {"track_record": _record(overrides)}
}

_grant := {"autonomous": true, "proposal_id": "promote-1", "granted_at": "2026-11-26T09:00:00Z"}

_grants(entry) := {"restart_deployment": {"prod": {"shop": entry}}}

test_default_rule_is_the_issues if {
	data.aiops.autonomy.rule == {"min_approved_executions": 20, "min_helpful_percent": 90, "max_harmful": 0, "min_days": 14}
	data.aiops.autonomy.grants == {}
}

test_allow_promotion_at_every_boundary if {
	_promotion({}) == {"eligible": true, "unmet": []}
}

test_deny_promotion_19_executions if {
	p := _promotion({"approved_executions": 19, "helpful": 18})
	p.eligible == false
	p.unmet == ["19 approved executions, needs 20"]
}

test_promotion_89_vs_90_percent_helpful if {
	_promotion({"approved_executions": 100, "helpful": 90}).eligible == true
	p := _promotion({"approved_executions": 100, "helpful": 89})
	p.eligible == false
	p.unmet == ["89 of 100 executions helpful, needs 90%"]
}

test_deny_promotion_one_harmful if {
	p := _promotion({"harmful": 1})
	p.eligible == false
	p.unmet == ["1 harmful outcomes, at most 0 allowed"]
}

test_promotion_13_vs_14_days if {
	p := _promotion({"last_execution_s": (1000000 + (14 * _day_s)) - 1})
	p.eligible == false
	p.unmet == ["record spans 13.9 days, needs 14"]
	q := _promotion({"last_execution_s": 1000000 + (13 * _day_s)})
	q.unmet == ["record spans 13 days, needs 14"]
}

test_deny_promotion_destructive_never if {
	p := _promotion({"action": "drain_node"})
	p.eligible == false
	p.unmet == ["destructive actions are never made autonomous"]
	_promotion({"action": "promote_autonomy"}).eligible == false
	_promotion({"action": "no_such_action"}).unmet == ["unknown actions are never made autonomous"]
}

test_deny_promotion_no_executions if {
	p := autonomy.promotion with input as {"track_record": _record({"approved_executions": 0, "helpful": 0})}
		with data.aiops.autonomy.rule as {"min_approved_executions": 0, "min_helpful_percent": 0, "max_harmful": 0, "min_days": 0}
	p.unmet == ["no approved executions yet"]
}

test_deny_promotion_malformed_rule_or_record if {
	p := autonomy.promotion with input as {"track_record": _record({})} with data.aiops.autonomy.rule as "20"
	p.eligible == false
	"the promotion rule (data.aiops.autonomy.rule) is missing or malformed" in p.unmet
	q := autonomy.promotion with input as {"track_record": _record({})} with data.aiops.autonomy.rule as {"min_approved_executions": 20}
	q.eligible == false
	r := _promotion({"harmful": "0"})
	"the track record is malformed" in r.unmet
	autonomy.promotion == {"eligible": false, "unmet": ["no track record given"]} with input as {}
}

test_deny_promotion_when_already_autonomous_or_demoted if {
	p := _promotion({}) with data.autonomy.grants as _grants(_grant)
	p.unmet == ["already autonomous or demoted for this selector"]
	q := _promotion({}) with data.autonomy.grants as _grants({"autonomous": false, "reason": "harmful"})
	q.eligible == false
}

# --- the gate --------------------------------------------------------------------

_restart := fx.input_for("restart_deployment", [])

test_allow_autonomous_state_changing_without_approval if {
	d := fx.decide(_restart) with data.autonomy.grants as _grants(_grant)
	d.allow == true
	d.required_approvals == 0
	d.autonomy_grant == "promote-1"
}

test_allow_autonomy_shipped_in_the_bundle if {
	d := fx.decide(_restart) with data.aiops.autonomy.grants as _grants(_grant)
	d.allow == true
}

test_deny_gated_without_grant if {
	d := fx.decide(_restart)
	d.allow == false
	d.required_approvals == 1
	d.autonomy_grant == null
}

test_deny_grant_for_another_selector if {
	d := fx.decide(_restart) with data.autonomy.grants as {"restart_deployment": {"prod": {"payments": _grant}}}
	d.allow == false
	e := fx.decide(_restart) with data.autonomy.grants as {"restart_deployment": {"staging": {"shop": _grant}}}
	e.allow == false
}

test_deny_demotion_in_either_source_wins if {
	demoted := {"autonomous": false, "proposal_id": "promote-1", "reason": "harmful outcome"}
	d := fx.decide(_restart) with data.aiops.autonomy.grants as _grants(_grant) with data.autonomy.grants as _grants(demoted)
	d.allow == false
	e := fx.decide(_restart) with data.autonomy.grants as _grants(_grant) with data.aiops.autonomy.grants as _grants(demoted)
	e.allow == false
}

test_deny_unreadable_grant_is_approval_gated if {
	every entry in ["yes", {"autonomous": "true", "proposal_id": "promote-1"}, {"autonomous": true}, {"autonomous": true, "proposal_id": 7}, null] {
		d := fx.decide(_restart) with data.autonomy.grants as _grants(entry)
		d.allow == false
		d.required_approvals == 1
	}
}

test_deny_malformed_grant_table_is_approval_gated if {
	d := fx.decide(_restart) with data.aiops.autonomy.grants as "all" with data.autonomy.grants as _grants(_grant)
	d.allow == true
	e := fx.decide(_restart) with data.aiops.autonomy.grants as "all"
	e.allow == false
}

test_deny_destructive_grant_never_counts if {
	inp := fx.input_for("drain_node", [fx.approve("kid-alice", "drain_node")])
	d := fx.decide(inp) with data.autonomy.grants as {"drain_node": {"prod": {"shop": _grant}}}
	d.allow == false
	d.required_approvals == 2
	autonomy.selector_state("drain_node", "prod", "shop") == "gated" with data.autonomy.grants as {"drain_node": {"prod": {"shop": _grant}}}
}

# --- demotion ----------------------------------------------------------------------

_demotion(since) := d if {
	d := autonomy.demotion with input as {"track_record": object.union(_record({}), since)}
}

test_demote_on_one_harmful_outcome if {
	d := _demotion({"harmful_since_grant": 1, "outcomes_since_grant": 1, "no_effect_since_grant": 0})
	d == {"demote": true, "reasons": ["1 harmful outcome(s) since the grant"]}
	_demotion({"harmful_since_grant": 0, "outcomes_since_grant": 1, "no_effect_since_grant": 0}).demote == false
}

test_demote_on_no_effect_rate_boundaries if {
	# default: at least 5 outcomes, more than 50% without effect
	_demotion({"harmful_since_grant": 0, "outcomes_since_grant": 4, "no_effect_since_grant": 4}).demote == false
	_demotion({"harmful_since_grant": 0, "outcomes_since_grant": 6, "no_effect_since_grant": 3}).demote == false
	d := _demotion({"harmful_since_grant": 0, "outcomes_since_grant": 6, "no_effect_since_grant": 4})
	d.reasons == ["4 of 6 outcomes since the grant had no effect (more than 50%)"]
}

test_no_demotion_without_record if {
	autonomy.demotion == {"demote": false, "reasons": []} with input as {}
	d := _demotion({"harmful_since_grant": 0, "outcomes_since_grant": 9, "no_effect_since_grant": 9}) with data.aiops.autonomy.demotion as "off"
	d.demote == false
}
