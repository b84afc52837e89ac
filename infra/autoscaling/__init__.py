"""Queue-depth autoscaling: the scaling spec, CREMA's config rendered from it, and CREMA on Cloud Run."""
