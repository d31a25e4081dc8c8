"""STS: who am I, and temporary credentials (AssumeRole, GetSessionToken)."""
