"""Per-subject HTML report: a page of sections, each contributed by a stage's outputs.

``render_report`` groups the given stage outputs by the stage their sidecars name, builds every
registered section that has something to show (:func:`register_section`), and writes one
self-contained page. The built-in sections (voxelwise encoding, 2 vs 2 per ROI, contrastive
retrieval) register themselves when this package is imported.
"""

from neurodecode.report import (  # noqa: F401  (register sections)
    _caption,
    _dive,
    _encoding,
    _motion,
    _reconstruct,
    _retrieval,
    _scuba,
)
from neurodecode.report._encoding import best_feature_spaces
from neurodecode.report._page import provenance_section, render_page
from neurodecode.report._render import ReportInputs, render_report
from neurodecode.report._retrieval import retrieval_report_data
from neurodecode.report._sections import (
    Section,
    SectionContext,
    SectionSpec,
    list_sections,
    register_section,
)

__all__ = [
    "ReportInputs",
    "Section",
    "SectionContext",
    "SectionSpec",
    "best_feature_spaces",
    "list_sections",
    "provenance_section",
    "register_section",
    "render_page",
    "render_report",
    "retrieval_report_data",
]
