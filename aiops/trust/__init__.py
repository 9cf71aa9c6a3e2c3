"""Earned autonomy (the trust ladder): outcomes of executed actions, track records, promotions and demotions."""
