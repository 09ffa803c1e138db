"""The built-in maskers, one per module; ``veil.mask.registry`` lists them."""
