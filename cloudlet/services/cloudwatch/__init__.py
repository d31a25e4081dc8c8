"""CloudWatch: metrics, statistics, metric math, alarms evaluated on a schedule, dashboards."""
