# METADATA
# title: Approval token time rules
# description: |
#   When an approval token is valid: its expiry has not passed, it was not
#   issued (iat) or made valid (nbf) further in the future than the clock
#   skew allows, and its lifetime (exp - iat) is positive and no longer than
#   the maximum. Both limits come from data.aiops.approval_tokens, so
#   operators change them by shipping a bundle. Missing or malformed limits
#   make every token invalid (fail closed).
package aiops.token_rules

_limit(name, minimum) := n if {
	n := data.aiops.approval_tokens[name]
	is_number(n)
	n >= minimum
}

# METADATA
# title: Maximum token lifetime
# description: data.aiops.approval_tokens.max_lifetime_s, a positive number of seconds.
max_lifetime_s := n if {
	n := _limit("max_lifetime_s", 0)
	n > 0
}

# METADATA
# title: Clock skew allowance
# description: data.aiops.approval_tokens.clock_skew_s, seconds a token's iat or nbf may lie in the future.
clock_skew_s := _limit("clock_skew_s", 0)

_limits_valid if {
	max_lifetime_s
	is_number(clock_skew_s)
}

_ns(seconds) := seconds * 1000000000

_claim_type(claims, name) := type_name(object.get(claims, name, null))

_problem("limits", _, _) := msg if {
	not _limits_valid
	msg := "the bundle data has no valid approval token limits (data.aiops.approval_tokens.max_lifetime_s > 0 and clock_skew_s >= 0); no token counts"
}

_problem("exp", claims, _) := "token claim exp is missing or not a number" if _claim_type(claims, "exp") != "number"

_problem("iat", claims, _) := "token claim iat is missing or not a number" if _claim_type(claims, "iat") != "number"

_problem("nbf", claims, _) := "token claim nbf is not a number" if {
	"nbf" in object.keys(claims)
	_claim_type(claims, "nbf") != "number"
}

_problem("expired", claims, now_ns) := "token expired" if {
	is_number(claims.exp)
	now_ns >= _ns(claims.exp)
}

_problem("issued_in_future", claims, now_ns) := msg if {
	is_number(claims.iat)
	_ns(claims.iat) > now_ns + _ns(clock_skew_s)
	msg := sprintf("token issued in the future (iat is more than the allowed clock skew of %vs ahead)", [clock_skew_s])
}

_problem("not_yet_valid", claims, now_ns) := msg if {
	is_number(claims.nbf)
	_ns(claims.nbf) > now_ns + _ns(clock_skew_s)
	msg := sprintf("token is not valid yet (nbf is more than the allowed clock skew of %vs ahead)", [clock_skew_s])
}

_problem("lifetime", claims, _) := msg if {
	is_number(claims.exp)
	is_number(claims.iat)
	claims.exp - claims.iat > max_lifetime_s
	msg := sprintf("token lifetime %vs (exp - iat) exceeds the maximum of %vs", [claims.exp - claims.iat, max_lifetime_s])
}

_problem("lifetime_not_positive", claims, _) := "token expires before it is issued (exp <= iat)" if {
	is_number(claims.exp)
	is_number(claims.iat)
	claims.exp <= claims.iat
}

_rules := ["limits", "exp", "iat", "nbf", "expired", "issued_in_future", "not_yet_valid", "lifetime", "lifetime_not_positive"]

# METADATA
# title: Token time problems
# description: Every reason the token's time claims make it invalid at now_ns; empty when it is timely.
problems(claims, now_ns) := {msg |
	some rule in _rules
	msg := _problem(rule, claims, now_ns)
}

# METADATA
# title: Timely
# description: True when the token's time claims are valid at now_ns under the bundle's limits.
timely(claims, now_ns) if count(problems(claims, now_ns)) == 0
