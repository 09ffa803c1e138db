"""Pure verification of the audit trail."""
