# METADATA
# title: Tests for approval token verification
package aiops.approvals_test

import data.aiops.fixtures_test as fx

_action := "restart_deployment"

_with_claims(kid, overrides) := object.union(fx.claims(kid, _action, "approve"), overrides)

_decide_one(event) := fx.decide(fx.input_for(_action, [event]))

test_deny_forged_signature if {
	# Header names alice's key, but the token is signed with mallory's key.
	forged := fx.sign_as("kid-alice", "kid-mallory", fx.claims("kid-alice", _action, "approve"))
	d := _decide_one(fx.event(forged, "approve"))
	d.allow == false
	d.reasons == [
		"approval 0: signature does not verify with key kid-alice",
		"state_changing action needs 1 approval, has 0",
	]
	d.rejected_approvals == [{"index": 0, "kid": "kid-alice", "reason": "signature does not verify with key kid-alice"}]
	d.valid_approvers == []
}

test_deny_tampered_claims if {
	# Re-use alice's valid signature on a payload for another proposal.
	good := fx.sign("kid-alice", fx.claims("kid-alice", _action, "approve"))
	[header, _, signature] := split(good, ".")
	payload := base64url.encode_no_pad(json.marshal(_with_claims("kid-alice", {"proposal_id": "P1", "jti": "other"})))
	d := _decide_one(fx.event(concat(".", [header, payload, signature]), "approve"))
	d.allow == false
	"approval 0: signature does not verify with key kid-alice" in d.reasons
}

test_deny_unknown_key if {
	d := _decide_one(fx.approve("kid-mallory", _action))
	d.allow == false
	"approval 0: signed by unknown key kid-mallory" in d.reasons
	d.rejected_approvals == [{"index": 0, "kid": "kid-mallory", "reason": "signed by unknown key kid-mallory"}]
}

test_deny_expired_token if {
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"exp": fx.now_s - 1}))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token expired" in d.reasons
}

test_deny_token_expiring_exactly_now if {
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"exp": fx.now_s}))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token expired" in d.reasons
}

test_deny_token_not_yet_valid if {
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"nbf": fx.now_s + 600}))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token is not valid yet (nbf is more than the allowed clock skew of 60s ahead)" in d.reasons
}

test_deny_token_with_audience if {
	# io.jwt.decode_verify rejects any token carrying aud unless an aud
	# constraint is given; the policy explains that instead of a bare failure.
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"aud": "aiops"}))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token has an aud claim; approval tokens must not carry an audience" in d.reasons
}

test_deny_token_with_non_numeric_exp if {
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"exp": "tomorrow"}))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token claim exp is missing or not a number" in d.reasons
}

test_deny_token_for_other_proposal if {
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"proposal_id": "P2"}))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	d.reasons == [
		"approval 0: token is for proposal P2, not P1",
		"state_changing action needs 1 approval, has 0",
	]
}

test_deny_altered_parameters if {
	# The gatekeeper hashes the altered parameters; the token carries the hash
	# of the parameters alice approved.
	altered := object.union(fx.parameters_for(_action), {"deployment": "orders-db"})
	inp := object.union(fx.input_for(_action, [fx.approve("kid-alice", _action)]), {"proposal": {
		"parameters": altered,
		"action_hash": fx.action_hash(_action, altered),
	}})
	d := fx.decide(inp)
	d.allow == false
	d.reasons == [
		"approval 0: action or parameters differ from what was approved",
		"state_changing action needs 1 approval, has 0",
	]
}

test_deny_token_for_other_action if {
	d := _decide_one(fx.approve("kid-alice", "scale_deployment"))
	d.allow == false
	"approval 0: action or parameters differ from what was approved" in d.reasons
}

test_deny_self_approval_by_proposer if {
	base := fx.input_for(_action, [fx.approve("kid-alice", _action)])
	d := fx.decide(object.union(base, {"proposal": {"proposer": {"kind": "human", "name": "alice"}}}))
	d.allow == false
	d.reasons == [
		"approval 0: alice proposed this action and cannot approve it",
		"state_changing action needs 1 approval, has 0",
	]
}

test_deny_self_approval_by_requester if {
	base := fx.input_for(_action, [fx.approve("kid-alice", _action)])
	d := fx.decide(object.union(base, {"proposal": {"requested_by": "alice"}}))
	d.allow == false
	"approval 0: alice requested this action and cannot approve it" in d.reasons
}

test_allow_requester_approved_by_someone_else if {
	base := fx.input_for(_action, [fx.approve("kid-bob", _action)])
	d := fx.decide(object.union(base, {"proposal": {"requested_by": "alice"}}))
	d.allow == true
	d.valid_approvers == ["bob"]
}

test_deny_approver_outside_groups if {
	d := _decide_one(fx.approve("kid-dave", _action))
	d.allow == false
	d.reasons == [
		"approval 0: dave is not in a group allowed to approve restart_deployment (sre, platform)",
		"state_changing action needs 1 approval, has 0",
	]
}

test_deny_groups_and_name_claimed_in_token_grant_nothing if {
	token := fx.sign("kid-dave", object.union(
		fx.claims("kid-dave", _action, "approve"),
		{"sub": "alice", "name": "alice", "groups": ["admin", "sre"]},
	))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: dave is not in a group allowed to approve restart_deployment (sre, platform)" in d.reasons
	d.valid_approvers == []
}

test_deny_action_without_approver_groups if {
	d := _decide_one(fx.approve("kid-alice", _action)) with data.aiops.actions.restart_deployment.approver_groups as null
	d.allow == false
	"approval 0: alice is not in a group allowed to approve restart_deployment (no groups are configured)" in d.reasons
}

test_deny_wrong_algorithm if {
	hs_key := {"kty": "oct", "k": base64url.encode_no_pad("not-a-real-secret")}
	token := io.jwt.encode_sign({"alg": "HS256", "typ": "JWT", "kid": "kid-alice"}, fx.claims("kid-alice", _action, "approve"), hs_key)
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token uses algorithm HS256, only ES256 is accepted" in d.reasons
}

test_deny_unsigned_token if {
	header := base64url.encode_no_pad(json.marshal({"alg": "none", "kid": "kid-alice"}))
	payload := base64url.encode_no_pad(json.marshal(fx.claims("kid-alice", _action, "approve")))
	d := _decide_one(fx.event(concat(".", [header, payload, ""]), "approve"))
	d.allow == false
	"approval 0: token uses algorithm none, only ES256 is accepted" in d.reasons
}

test_deny_malformed_token if {
	d := _decide_one(fx.event("not-a-jwt", "approve"))
	d.allow == false
	d.rejected_approvals == [{"index": 0, "kid": null, "reason": "token is not a well-formed JWT"}]
	"approval 0: token is not a well-formed JWT" in d.reasons
}

test_deny_token_without_kid if {
	token := io.jwt.encode_sign({"alg": "ES256", "typ": "JWT"}, fx.claims("kid-alice", _action, "approve"), fx.key_pairs_for_tests_only["kid-alice"].private_jwk)
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token header has no kid" in d.reasons
}

test_deny_approval_without_token if {
	d := _decide_one({"proposal_id": "P1", "decision": "approve"})
	d.allow == false
	"approval 0: approval has no token string" in d.reasons
	d2 := _decide_one("just a string")
	"approval 0: approval has no token string" in d2.reasons
}

test_deny_missing_token_claims if {
	token := fx.sign("kid-alice", json.remove(fx.claims("kid-alice", _action, "approve"), ["exp", "iat", "jti"]))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: token claim exp is missing or not a number" in d.reasons
	"approval 0: token claim iat is missing or not a number" in d.reasons
	"approval 0: token claim jti is missing or not a string" in d.reasons
}

test_deny_invalid_decision_claim if {
	token := fx.sign("kid-alice", _with_claims("kid-alice", {"decision": "maybe"}))
	d := _decide_one(fx.event(token, "maybe"))
	d.allow == false
	"approval 0: token decision maybe is neither approve nor reject" in d.reasons
}

test_deny_event_decision_differs_from_token if {
	token := fx.sign("kid-alice", fx.claims("kid-alice", _action, "approve"))
	d := _decide_one(fx.event(token, "reject"))
	d.allow == false
	"approval 0: approval event says reject but the signed token says approve" in d.reasons
	d.valid_approvers == []
	d.rejected_by == []
}

test_deny_signed_rejection_wins_over_event_label if {
	# The gatekeeper labelled the event "approve" but alice signed a rejection.
	token := fx.sign("kid-alice", fx.claims("kid-alice", _action, "reject"))
	d := _decide_one(fx.event(token, "approve"))
	d.allow == false
	"approval 0: alice rejected this action" in d.reasons
	d.rejected_by == ["alice"]
}

test_deny_event_for_other_proposal if {
	event := object.union(fx.approve("kid-alice", _action), {"proposal_id": "P2"})
	d := _decide_one(event)
	d.allow == false
	"approval 0: approval event is for proposal P2, not P1" in d.reasons
}

test_deny_approver_without_public_key if {
	registered := {"kid-alice": {"name": "alice", "groups": ["sre"]}}
	d := fx.decide_with_approvers(fx.input_for(_action, [fx.approve("kid-alice", _action)]), registered)
	d.allow == false
	"approval 0: key kid-alice has no public_key in the bundle data" in d.reasons
}

test_deny_approver_with_invalid_public_key if {
	registered := {"kid-alice": {"name": "alice", "groups": ["sre"], "public_key": "not a PEM"}}
	d := fx.decide_with_approvers(fx.input_for(_action, [fx.approve("kid-alice", _action)]), registered)
	d.allow == false
	"approval 0: signature does not verify with key kid-alice" in d.reasons
}

test_deny_approver_without_name if {
	registered := {"kid-alice": {"groups": ["sre"], "public_key": fx.approvers["kid-alice"].public_key}}
	inp := fx.input_for(_action, [fx.approve("kid-alice", _action), fx.reject("kid-alice", _action)])
	d := fx.decide_with_approvers(inp, registered)
	d.allow == false
	"approval 0: key kid-alice has no approver name in the bundle data" in d.reasons
	"approval 1: kid-alice rejected this action" in d.reasons
}

test_deny_approval_when_proposer_is_missing if {
	inp := json.remove(fx.input_for(_action, [fx.approve("kid-alice", _action)]), ["proposal/proposer"])
	d := fx.decide(inp)
	d.allow == false
	"input.proposal.proposer.name must be a non-empty string" in d.reasons
	"approval 0: approval did not count because the proposal in the input is incomplete" in d.reasons
	d.valid_approvers == []
}

test_deny_revoked_key_even_when_listed_again if {
	revocations := [{"kid": "kid-alice", "name": "alice", "revoked_at": "2026-11-26T09:00:00+00:00", "reason": "laptop stolen"}]
	d := _decide_one(fx.approve("kid-alice", _action)) with data.aiops.key_revocations as revocations
	d.allow == false
	d.rejected_approvals == [{"index": 0, "kid": "kid-alice", "reason": "signed by revoked key kid-alice (revoked at 2026-11-26T09:00:00+00:00: laptop stolen)"}]
	d.valid_approvers == []
}

test_deny_veto_from_a_revoked_key_counts_for_nothing if {
	revocations := [{"kid": "kid-carol", "name": "carol", "revoked_at": "2026-11-26T09:00:00+00:00", "reason": "left"}]
	inp := fx.input_for(_action, [fx.approve("kid-alice", _action), fx.reject("kid-carol", _action)])
	d := fx.decide(inp) with data.aiops.key_revocations as revocations
	d.rejected_by == []
	d.allow == true
}

test_allow_other_keys_when_one_is_revoked if {
	revocations := [{"kid": "kid-alice-laptop", "name": "alice", "revoked_at": "2026-11-26T09:00:00+00:00", "reason": "lost"}]
	d := _decide_one(fx.approve("kid-alice", _action)) with data.aiops.key_revocations as revocations
	d.allow == true
}
