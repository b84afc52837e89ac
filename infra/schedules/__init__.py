"""Scheduled tasks: Cloud Scheduler jobs (both platforms; a private API on GKE uses CronJobs)."""
