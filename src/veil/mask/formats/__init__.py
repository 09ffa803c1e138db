"""Per-type pseudonym formats: one module per data type family, pure functions of (context, value).

Each ``pseudonymize`` returns a value of the same shape that depends only on the key
and the value; the maskers in ``veil.mask.builtin`` dispatch to them by type.
"""
