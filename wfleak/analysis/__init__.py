"""Analysis: turns probe measurements into trends, findings and a verdict."""
