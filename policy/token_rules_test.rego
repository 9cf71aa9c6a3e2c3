# METADATA
# title: Tests for the approval token time rules (lifetime and clock skew), at each boundary
package aiops.token_rules_test

import data.aiops.fixtures_test as fx

_action := "restart_deployment"

# A token alice signs with these time claims (seconds relative to the fixtures' now).
_token_event(times) := fx.event(fx.sign("kid-alice", object.union(fx.claims("kid-alice", _action, "approve"), times)), "approve")

_decide(times) := fx.decide(fx.input_for(_action, [_token_event(times)]))

_limits := {"max_lifetime_s": 3600, "clock_skew_s": 60}

_decide_with(times, limits) := d if {
	d := _decide(times) with data.aiops.approval_tokens as limits
}

# --- maximum lifetime (exp - iat) ----------------------------------------------

test_allow_lifetime_exactly_the_maximum if {
	d := _decide_with({"iat": fx.now_s - 100, "exp": (fx.now_s - 100) + 3600}, _limits)
	d.allow == true
}

test_deny_lifetime_one_second_over_the_maximum if {
	d := _decide_with({"iat": fx.now_s - 100, "exp": (fx.now_s - 100) + 3601}, _limits)
	d.allow == false
	"approval 0: token lifetime 3601s (exp - iat) exceeds the maximum of 3600s" in d.reasons
	d.rejected_approvals == [{"index": 0, "kid": "kid-alice", "reason": "token lifetime 3601s (exp - iat) exceeds the maximum of 3600s"}]
}

test_deny_token_valid_for_a_year if {
	d := _decide_with({"iat": fx.now_s, "exp": fx.now_s + 31536000}, _limits)
	d.allow == false
	"approval 0: token lifetime 31536000s (exp - iat) exceeds the maximum of 3600s" in d.reasons
}

test_deny_token_expiring_before_it_is_issued if {
	d := _decide_with({"iat": fx.now_s + 30, "exp": fx.now_s + 10}, _limits)
	d.allow == false
	"approval 0: token expires before it is issued (exp <= iat)" in d.reasons
}

test_allow_lifetime_from_the_bundle_data if {
	# Operators widen the limit by shipping other data: the same token then counts.
	times := {"iat": fx.now_s - 100, "exp": (fx.now_s - 100) + 7200}
	_decide_with(times, _limits).allow == false
	_decide_with(times, {"max_lifetime_s": 7200, "clock_skew_s": 60}).allow == true
}

# --- clock skew for iat ----------------------------------------------------------

test_allow_iat_exactly_the_skew_ahead if {
	d := _decide_with({"iat": fx.now_s + 60, "exp": fx.now_s + 600}, _limits)
	d.allow == true
}

test_deny_iat_one_second_beyond_the_skew if {
	d := _decide_with({"iat": fx.now_s + 61, "exp": fx.now_s + 600}, _limits)
	d.allow == false
	"approval 0: token issued in the future (iat is more than the allowed clock skew of 60s ahead)" in d.reasons
}

test_deny_iat_far_in_the_future if {
	d := _decide_with({"iat": fx.now_s + 86400, "exp": (fx.now_s + 86400) + 600}, _limits)
	d.allow == false
	"approval 0: token issued in the future (iat is more than the allowed clock skew of 60s ahead)" in d.reasons
}

test_deny_iat_ahead_with_zero_skew if {
	d := _decide_with({"iat": fx.now_s + 1, "exp": fx.now_s + 600}, {"max_lifetime_s": 3600, "clock_skew_s": 0})
	d.allow == false
	"approval 0: token issued in the future (iat is more than the allowed clock skew of 0s ahead)" in d.reasons
}

test_deny_iat_that_is_not_a_number if {
	d := _decide_with({"iat": "now"}, _limits)
	d.allow == false
	"approval 0: token claim iat is missing or not a number" in d.reasons
}

# --- clock skew for nbf ----------------------------------------------------------

test_allow_nbf_exactly_the_skew_ahead if {
	d := _decide_with({"nbf": fx.now_s + 60}, _limits)
	d.allow == true
}

test_deny_nbf_one_second_beyond_the_skew if {
	d := _decide_with({"nbf": fx.now_s + 61}, _limits)
	d.allow == false
	"approval 0: token is not valid yet (nbf is more than the allowed clock skew of 60s ahead)" in d.reasons
}

test_deny_nbf_that_is_not_a_number if {
	d := _decide_with({"nbf": "soon"}, _limits)
	d.allow == false
	"approval 0: token claim nbf is not a number" in d.reasons
}

# --- expiry (no skew: an expired token is expired) --------------------------------

test_allow_token_expiring_one_second_after_now if {
	d := _decide_with({"exp": fx.now_s + 1}, _limits)
	d.allow == true
}

test_deny_token_expiring_exactly_now_even_with_skew if {
	d := _decide_with({"exp": fx.now_s}, _limits)
	d.allow == false
	"approval 0: token expired" in d.reasons
}

# --- the limits themselves fail closed -------------------------------------------

_limits_missing_reason := "approval 0: the bundle data has no valid approval token limits (data.aiops.approval_tokens.max_lifetime_s > 0 and clock_skew_s >= 0); no token counts"

test_deny_without_token_limits_in_the_data if {
	d := _decide({}) with data.aiops.approval_tokens as null
	d.allow == false
	_limits_missing_reason in d.reasons
}

test_deny_with_malformed_token_limits if {
	every limits in [
		{"max_lifetime_s": 0, "clock_skew_s": 60},
		{"max_lifetime_s": -5, "clock_skew_s": 60},
		{"max_lifetime_s": "1h", "clock_skew_s": 60},
		{"max_lifetime_s": 3600, "clock_skew_s": -1},
		{"max_lifetime_s": 3600},
	] {
		d := _decide_with({}, limits)
		d.allow == false
		_limits_missing_reason in d.reasons
	}
}

test_deny_veto_only_when_timely if {
	# An over-long rejection token is not a veto either: it is not a valid token.
	token := fx.sign("kid-carol", object.union(fx.claims("kid-carol", _action, "reject"), {"iat": fx.now_s, "exp": fx.now_s + 7200}))
	d := fx.decide(fx.input_for(_action, [fx.approve("kid-alice", _action), fx.event(token, "reject")]))
	d.rejected_by == []
	d.allow == true
}

test_shipped_data_sets_one_hour_and_sixty_seconds if {
	data.aiops.approval_tokens == _limits
}
