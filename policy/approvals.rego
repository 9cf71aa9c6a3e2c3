# METADATA
# title: Approval tokens
# description: |
#   Verifies the ES256-signed approval JWTs in input.approvals and decides
#   which of them count. A token is verified with io.jwt.decode_verify using
#   only the public key that data.aiops.approvers registers under the token's
#   kid. The approver's name and groups always come from data.aiops.approvers,
#   never from token claims.
package aiops.approvals

import data.aiops.catalog
import data.aiops.token_rules

# --- Decoding and verification -----------------------------------------------

default _approval_list := []

_approval_list := input.approvals if is_array(input.approvals)

_tokens[i] := token if {
	some i, approval in _approval_list
	token := approval.token
	is_string(token)
}

# Unverified decode. Used only to find the kid and to explain failures;
# nothing read here is trusted.
_decoded[i] := {"header": header, "claims": claims} if {
	some i, token in _tokens
	[header, claims, _] := io.jwt.decode(token)
}

_kid[i] := kid if {
	some i, decoded in _decoded
	kid := decoded.header.kid
	is_string(kid)
}

# Keys `aiops keys revoke` recorded as revoked never count, even if put back into approvers by hand.
_revocations := data.aiops.key_revocations if is_array(data.aiops.key_revocations)

_revoked[kid] := record if {
	some record in _revocations
	kid := record.kid
	is_string(kid)
}

_approver[i] := approver if {
	some i, kid in _kid
	not _revoked[kid]
	approver := data.aiops.approvers[kid]
	is_object(approver)
}

_public_key[i] := pem if {
	some i, approver in _approver
	pem := approver.public_key
	is_string(pem)
}

_name[i] := name if {
	some i, approver in _approver
	name := approver.name
	is_string(name)
	name != ""
}

# Tokens whose ES256 signature verifies with the key registered under their
# kid. Their claims are authentic but may still be untimely.
_authentic[i] := _decoded[i].claims if {
	some i, pem in _public_key
	_decoded[i].header.alg == "ES256"
	io.jwt.verify_es256(_tokens[i], pem)
	is_object(_decoded[i].claims)
}

_has_audience(i) if "aud" in object.keys(_authentic[i])

# METADATA
# title: Verified tokens
# description: |
#   Index -> claims of every token whose ES256 signature verifies with the
#   key registered under its kid, that carries no aud claim, and whose time
#   claims are valid at input.now_ns under the bundle's token rules
#   (token_rules.rego: expiry, clock skew for iat and nbf, maximum lifetime).
verified[i] := claims if {
	some i, claims in _authentic
	not _has_audience(i)
	token_rules.timely(claims, input.now_ns)
}

_required_claims := {
	"exp": "number",
	"iat": "number",
	"jti": "string",
	"proposal_id": "string",
	"action_hash": "string",
	"decision": "string",
}

# Verified tokens bound to this exact proposal and action/parameters.
_bound contains i if {
	some i, claims in verified
	every name, type in _required_claims {
		type_name(claims[name]) == type
	}
	claims.proposal_id == input.proposal.id
	claims.action_hash == input.proposal.action_hash
}

_approving contains i if {
	some i, claims in verified
	claims.decision == "approve"
}

# --- Identity (from bundle data only) ------------------------------------------

_self_approval contains [i, "proposed"] if {
	some i, name in _name
	name == input.proposal.proposer.name
}

_self_approval contains [i, "requested"] if {
	some i, name in _name
	name == input.proposal.requested_by
}

_self_approver contains i if {
	some pair in _self_approval
	i := pair[0]
}

_in_allowed_group contains i if {
	some i, approver in _approver
	is_array(approver.groups)
	some group in approver.groups
	group in catalog.approver_groups
}

_proposer_known if {
	is_string(input.proposal.proposer.name)
	input.proposal.proposer.name != ""
}

# --- What counts -------------------------------------------------------------

# METADATA
# title: Valid approvals
# description: |
#   Index -> approver name of every approval that counts: a verified,
#   unexpired "approve" token for this proposal and action hash, carried by an
#   approval event for the same proposal and decision, from an approver in one
#   of the action's approver groups who neither proposed nor requested it.
valid_approvals[i] := name if {
	some i in _bound
	i in _approving
	_approval_list[i].decision == "approve"
	_approval_list[i].proposal_id == input.proposal.id
	name := _name[i]
	_proposer_known
	not i in _self_approver
	i in _in_allowed_group
}

# METADATA
# title: Valid approvers
# description: Distinct names of the people whose approvals count.
valid_approvers := {name | some name in valid_approvals}

# METADATA
# title: Vetoes
# description: |
#   Index -> name of every valid rejection: a verified, unexpired "reject"
#   token for this proposal and action hash from a registered approver. Any
#   veto denies. Group membership and the approval event's own fields are not
#   required for a veto (a rejection can only make the decision stricter).
vetoes[i] := who if {
	some i in _bound
	verified[i].decision == "reject"
	who := object.get(_name, i, _kid[i])
}

# METADATA
# title: Rejected by
# description: Distinct names of the people who validly rejected the proposal.
rejected_by := {who | some who in vetoes}

# METADATA
# title: Veto reasons
veto_reasons contains msg if {
	some i, who in vetoes
	msg := sprintf("approval %d: %s rejected this action", [i, who])
}

# --- Why an approval did not count ---------------------------------------------

_unverified_reason(i) := msg if {
	alg := object.get(_decoded[i].header, "alg", null)
	alg != "ES256"
	msg := sprintf("token uses algorithm %v, only ES256 is accepted", [alg])
} else := msg if {
	not _authentic[i]
	msg := sprintf("signature does not verify with key %s", [_kid[i]])
} else := "token has an aud claim; approval tokens must not carry an audience" if {
	_has_audience(i)
}

_issues contains [i, msg] if {
	some i, claims in _authentic
	some msg in token_rules.problems(claims, input.now_ns)
}

_issues contains [i, "approval has no token string"] if {
	some i, _ in _approval_list
	not _tokens[i]
}

_issues contains [i, "token is not a well-formed JWT"] if {
	some i, _ in _tokens
	not _decoded[i]
}

_issues contains [i, "token header has no kid"] if {
	some i, _ in _decoded
	not _kid[i]
}

_issues contains [i, msg] if {
	some i, kid in _kid
	not _revoked[kid]
	not _approver[i]
	msg := sprintf("signed by unknown key %s", [kid])
}

_issues contains [i, msg] if {
	some i, kid in _kid
	record := _revoked[kid]
	msg := sprintf("signed by revoked key %s (revoked at %v: %v)", [kid, object.get(record, "revoked_at", "?"), object.get(record, "reason", "no reason given")])
}

_issues contains [i, msg] if {
	some i, kid in _kid
	_approver[i]
	not _public_key[i]
	msg := sprintf("key %s has no public_key in the bundle data", [kid])
}

_issues contains [i, msg] if {
	some i, _ in _public_key
	not verified[i]
	msg := _unverified_reason(i)
}

_issues contains [i, msg] if {
	some i, claims in _authentic
	some name, type in _required_claims
	type_name(object.get(claims, name, null)) != type
	msg := sprintf("token claim %s is missing or not a %s", [name, type])
}

_issues contains [i, msg] if {
	some i, claims in verified
	claims.proposal_id != input.proposal.id
	msg := sprintf("token is for proposal %v, not %v", [claims.proposal_id, input.proposal.id])
}

_issues contains [i, "action or parameters differ from what was approved"] if {
	some i, claims in verified
	claims.action_hash != input.proposal.action_hash
}

_issues contains [i, msg] if {
	some i, claims in verified
	not claims.decision in {"approve", "reject"}
	msg := sprintf("token decision %v is neither approve nor reject", [object.get(claims, "decision", null)])
}

_issues contains [i, msg] if {
	some i, claims in verified
	event_decision := object.get(_approval_list[i], "decision", null)
	event_decision != claims.decision
	msg := sprintf("approval event says %v but the signed token says %v", [event_decision, claims.decision])
}

_issues contains [i, msg] if {
	some i in _approving
	event_proposal := object.get(_approval_list[i], "proposal_id", null)
	event_proposal != input.proposal.id
	msg := sprintf("approval event is for proposal %v, not %v", [event_proposal, input.proposal.id])
}

_issues contains [i, msg] if {
	some i in _approving
	not _name[i]
	msg := sprintf("key %s has no approver name in the bundle data", [_kid[i]])
}

_issues contains [i, msg] if {
	some pair in _self_approval
	[i, verb] := pair
	i in _approving
	msg := sprintf("%s %s this action and cannot approve it", [_name[i], verb])
}

_allowed_groups_text := concat(", ", catalog.approver_groups) if count(catalog.approver_groups) > 0

_allowed_groups_text := "no groups are configured" if count(catalog.approver_groups) == 0

_issues contains [i, msg] if {
	some i in _approving
	not i in _in_allowed_group
	msg := sprintf(
		"%s is not in a group allowed to approve %s (%s)",
		[_name[i], input.proposal.action, _allowed_groups_text],
	)
}

_has_issue contains pair[0] if some pair in _issues

# METADATA
# title: Approval issues
# description: |
#   [index, reason] for every approval that did not count. Valid rejections
#   (vetoes) are reported separately.
issues contains pair if some pair in _issues

issues contains [i, "approval did not count because the proposal in the input is incomplete"] if {
	some i, _ in _approval_list
	not valid_approvals[i]
	not vetoes[i]
	not i in _has_issue
}

# METADATA
# title: Rejected approvals
# description: One {index, kid, reason} object per reason an approval did not count, sorted.
rejected_approvals := sort([entry |
	some pair in issues
	[i, reason] := pair
	entry := {"index": i, "kid": object.get(_kid, i, null), "reason": reason}
])

# METADATA
# title: Approval problem reasons
# description: Human-readable reasons, "approval N -- why", for approvals that did not count.
problem_reasons contains msg if {
	some pair in issues
	[i, reason] := pair
	msg := sprintf("approval %d: %s", [i, reason])
}
