"""Developer and operator commands; never imported by the deployed app."""
