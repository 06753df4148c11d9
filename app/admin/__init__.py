"""Administration: roles, the admin API under `/api/v1/admin`, and the audit trail."""
