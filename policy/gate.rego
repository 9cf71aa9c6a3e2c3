# METADATA
# title: AIOps action gate
# description: |
#   Decides whether a proposed operational action may be executed.
#   Deny by default: allow is true only when every check is positively
#   satisfied and no deny reason was raised. Query data.aiops.gate.decision.
package aiops.gate

import data.aiops.approvals
import data.aiops.catalog
import data.aiops.earned_autonomy as autonomy
import data.aiops.guardrails
import data.aiops.parameters
import data.aiops.validation

default _risk_class := "unknown"

_risk_class := catalog.risk_class

default _required_approvals := null

_required_approvals := _needed

# An action promoted by the trust ladder (autonomy.rego) needs no approval for its selector.
_needed := 0 if autonomy.autonomous

else := catalog.required_approvals

default _autonomy_grant := null

_autonomy_grant := autonomy.grant

default _policy_revision := "unknown"

_policy_revision := data.aiops.policy.revision if is_string(data.aiops.policy.revision)

_approval_count := count(approvals.valid_approvers)

_shortfall_reason(risk_class, 1, have) := sprintf("%s action needs 1 approval, has %d", [risk_class, have])

_shortfall_reason(risk_class, need, have) := msg if {
	need > 1
	msg := sprintf("%s action needs %d approvals from distinct people, has %d", [risk_class, need, have])
}

# Deny reasons that block an allow.
_blocking contains msg if some msg in validation.violations

_blocking contains msg if some msg in catalog.violations

_blocking contains msg if some msg in parameters.violations

_blocking contains msg if some msg in guardrails.violations

_blocking contains msg if some msg in approvals.veto_reasons

_blocking contains msg if {
	_approval_count < _needed
	msg := _shortfall_reason(catalog.risk_class, _needed, _approval_count)
}

# Every condition for an allow, stated positively.
_satisfied if {
	count(validation.violations) == 0
	count(parameters.violations) == 0
	is_number(_needed)
	_approval_count >= _needed
	count(approvals.vetoes) == 0
	guardrails.ok
}

# METADATA
# title: Allow
# description: True only when all checks are satisfied and there is no deny reason.
default allow := false

allow if {
	_satisfied
	count(_blocking) == 0
}

# METADATA
# title: Deny reasons
# description: |
#   Why the action is denied; empty when allowed. Approvals that did not
#   count are listed only when the action is denied (they are always
#   reported in rejected_approvals).
reasons contains msg if {
	not allow
	some msg in _blocking
}

reasons contains msg if {
	not allow
	some msg in approvals.problem_reasons
}

reasons contains "the policy could not establish that this action is allowed" if {
	not allow
	count(_blocking) == 0
}

# METADATA
# title: Decision
# description: The gate's answer to the gatekeeper.
# entrypoint: true
decision := {
	"allow": allow,
	"reasons": sort(reasons),
	"risk_class": _risk_class,
	"required_approvals": _required_approvals,
	"valid_approvers": sort(approvals.valid_approvers),
	"rejected_approvals": approvals.rejected_approvals,
	"rejected_by": sort(approvals.rejected_by),
	"policy_revision": _policy_revision,
	"autonomy_grant": _autonomy_grant,
}
