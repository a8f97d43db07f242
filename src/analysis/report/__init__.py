"""Report: labels (nl/en), disclosure control, figures, the Report object and PDF export."""

from analysis.report.report import Report

__all__ = ["Report"]
