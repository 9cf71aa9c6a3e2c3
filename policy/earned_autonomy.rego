# METADATA
# title: Earned autonomy (the trust ladder)
# description: |
#   Which state-changing actions run without approval for a selector
#   (action, environment, namespace), when a track record earns a promotion,
#   and when an autonomous action is demoted again. Grants come from the
#   bundle (data.aiops.autonomy.grants, shipped by the operator) and from the
#   OPA data API (data.autonomy.grants, outside the bundle's roots, written by
#   an approved promote_autonomy proposal or by a demotion). Deny by default:
#   anything but a well-formed grant that says autonomous, with no demotion
#   in either source, leaves the action approval-gated. Destructive actions
#   can never become autonomous, whatever the data says.
package aiops.earned_autonomy

import data.aiops.catalog

# Only these risk classes can ever be promoted (read_only needs no approval anyway).
promotable_classes := {"state_changing"}

# METADATA
# title: Promotion rule
# description: The bundle's thresholds; a missing or malformed value means no promotion.
default rule := {}

rule := data.aiops.autonomy.rule if is_object(data.aiops.autonomy.rule)

default demotion_rule := {}

demotion_rule := data.aiops.autonomy.demotion if is_object(data.aiops.autonomy.demotion)

default _bundle_grants := {}

_bundle_grants := data.aiops.autonomy.grants if is_object(data.aiops.autonomy.grants)

default _live_grants := {}

_live_grants := data.autonomy.grants if is_object(data.autonomy.grants)

_sources := [_bundle_grants, _live_grants]

_grant_entries(action, environment, namespace) := [g |
	some source in _sources
	g := source[action][environment][namespace]
]

_granting(g) if {
	is_object(g)
	g.autonomous == true
	is_string(g.proposal_id)
}

_demoting(g) if not _granting(g)

# METADATA
# title: Selector state
# description: autonomous, demoted or gated for one selector.
selector_state(action, environment, namespace) := "demoted" if {
	some g in _grant_entries(action, environment, namespace)
	_demoting(g)
} else := "autonomous" if {
	some g in _grant_entries(action, environment, namespace)
	_granting(g)
	_promotable(action)
} else := "gated"

# METADATA
# title: Autonomous
# description: True when the proposed action runs without approval for its target.
autonomous if {
	catalog.risk_class in promotable_classes
	selector_state(catalog.action_name, input.proposal.target.environment, input.proposal.target.namespace) == "autonomous"
}

# METADATA
# title: Grant
# description: The grant that makes the proposal autonomous (its promotion proposal id), for the audit.
grant := g.proposal_id if {
	autonomous
	some g in _grant_entries(catalog.action_name, input.proposal.target.environment, input.proposal.target.namespace)
	_granting(g)
}

# --- Promotion: input.track_record is one selector's record ------------------

_record := input.track_record

_number(name) := rule[name] if is_number(rule[name])

_promotable(action) if data.aiops.actions[action].risk_class in promotable_classes

_unmet contains msg if {
	not _promotable(_record.action)
	msg := sprintf("%v actions are never made autonomous", [object.get(object.get(data.aiops.actions, _record.action, {}), "risk_class", "unknown")])
}

_unmet contains "the promotion rule (data.aiops.autonomy.rule) is missing or malformed" if {
	some name in ["min_approved_executions", "min_helpful_percent", "max_harmful", "min_days"]
	not _number(name)
}

_unmet contains msg if {
	_record.approved_executions < _number("min_approved_executions")
	msg := sprintf("%d approved executions, needs %d", [_record.approved_executions, _number("min_approved_executions")])
}

_unmet contains msg if {
	_record.helpful * 100 < _number("min_helpful_percent") * _record.approved_executions
	msg := sprintf("%d of %d executions helpful, needs %v%%", [_record.helpful, _record.approved_executions, _number("min_helpful_percent")])
}

_unmet contains "no approved executions yet" if _record.approved_executions == 0

_unmet contains msg if {
	_record.harmful > _number("max_harmful")
	msg := sprintf("%d harmful outcomes, at most %v allowed", [_record.harmful, _number("max_harmful")])
}

_unmet contains msg if {
	span_s := _record.last_execution_s - _record.first_execution_s
	span_s < _number("min_days") * 86400
	msg := sprintf("record spans %v days, needs %v", [floor(span_s / 8640) / 10, _number("min_days")])
}

_unmet contains "already autonomous or demoted for this selector" if {
	selector_state(_record.action, _record.environment, _record.namespace) != "gated"
}

_unmet contains "the track record is malformed" if {
	some name in ["approved_executions", "helpful", "harmful", "first_execution_s", "last_execution_s"]
	not is_number(_record[name])
}

# METADATA
# title: Promotion
# description: Whether input.track_record earns a promotion, and what is still missing.
default promotion := {"eligible": false, "unmet": ["no track record given"]}

promotion := {"eligible": count(_unmet) == 0, "unmet": sort(_unmet)} if is_object(_record)

# --- Demotion: the record of outcomes since the grant ---------------------------

_demote_reasons contains msg if {
	_record.harmful_since_grant > 0
	msg := sprintf("%d harmful outcome(s) since the grant", [_record.harmful_since_grant])
}

_demote_reasons contains msg if {
	is_number(demotion_rule.min_outcomes)
	is_number(demotion_rule.max_no_effect_percent)
	_record.outcomes_since_grant >= demotion_rule.min_outcomes
	_record.no_effect_since_grant * 100 > demotion_rule.max_no_effect_percent * _record.outcomes_since_grant
	msg := sprintf("%d of %d outcomes since the grant had no effect (more than %v%%)", [_record.no_effect_since_grant, _record.outcomes_since_grant, demotion_rule.max_no_effect_percent])
}

# METADATA
# title: Demotion
# description: Whether an autonomous selector must go back to approval-gated, and why.
default demotion := {"demote": false, "reasons": []}

demotion := {"demote": count(_demote_reasons) > 0, "reasons": sort(_demote_reasons)} if is_object(_record)
