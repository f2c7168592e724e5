"""The completeness check shown before a postmortem is sent for review or published.

It advises and never blocks: whoever may make the move sees what is still missing and may go ahead anyway.
It reads only what the incident page has already loaded (causes, timeline, action items) plus the blame hints
the caller computed, so showing it costs no query of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidents.markdown import POSTMORTEM_TEMPLATE
from incidents.models import Incident

# The template's guidance sentences: still there means a section was never written.
GUIDANCE = tuple(
    line.strip() for line in POSTMORTEM_TEMPLATE.splitlines() if line.strip() and not line.startswith("#")
)
SERIOUS = {Incident.Severity.SEV1, Incident.Severity.SEV2}
CHECKED_MOVES = {Incident.Status.IN_REVIEW, Incident.Status.PUBLISHED}


@dataclass(frozen=True)
class Gap:
    text: str
    where: str  # the anchor on the incident page (or the editor) where it is fixed


def postmortem_gaps(incident: Incident, *, hint_count: int) -> list[Gap]:
    """What a reviewer would send back: template text left in, blame language, causes without a note or none,
    a SEV1/SEV2 without action items, no timeline. Only postmortems (incidents) are checked."""
    if incident.kind != Incident.Kind.INCIDENT:
        return []
    gaps = []
    left = [line for line in GUIDANCE if line in incident.body]
    if left:
        gaps.append(Gap(f"The postmortem still holds {len(left)} line(s) of the template's guidance, such as "
                        f"\u201c{left[0]}\u201d.", "edit"))  # fmt: skip
    if hint_count:
        gaps.append(Gap(f"{hint_count} phrase(s) may read as blame; the editor's hints suggest system causes.",
                        "edit"))  # fmt: skip
    links = list(incident.incident_causes.all())
    if not links:
        gaps.append(Gap("No system cause is chosen.", "edit"))
    unnoted = [link.cause.name for link in links if not link.note.strip()]
    if unnoted:
        gaps.append(Gap(f"Causes without a note on how they applied: {', '.join(unnoted)}.", "edit"))
    if incident.severity in SERIOUS and not incident.action_items.all():
        gaps.append(Gap(f"A {incident.get_severity_display()} without action items.", "action-items"))
    if not incident.timeline.all():
        gaps.append(Gap("No timeline entries.", "timeline"))
    return gaps
