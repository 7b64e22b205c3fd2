"""ACR 2016 fibromyalgia criteria: the 19 pain areas, their 5 regions, and the symptom severity scale.

Wolfe F, Clauw DJ, Fitzcharles MA, et al. 2016 Revisions to the 2010/2011 fibromyalgia
diagnostic criteria. Semin Arthritis Rheum 2016;46(3):319-329.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Source

SOURCE = Source(
    citation=(
        "Wolfe F, Clauw DJ, Fitzcharles MA, Goldenberg DL, Häuser W, Katz RL, Mease PJ, Russell AS, "
        "Russell IJ, Walitt B. 2016 Revisions to the 2010/2011 fibromyalgia diagnostic criteria. "
        "Semin Arthritis Rheum 2016;46(3):319-329."
    ),
    licence=(
        "Published diagnostic criteria, reproduced for screening. Self-reported answers can only be "
        "consistent with the criteria; a physician confirms any diagnosis."
    ),
    pmid="27916278",
)


@dataclass(frozen=True)
class Region:
    """One of the five body regions of the generalized-pain rule."""

    key: str
    label: str


@dataclass(frozen=True)
class PainArea:
    """One of the 19 Widespread Pain Index areas.

    ``generalized`` is False for the jaw, chest and abdomen: they count toward the WPI
    but not toward the regions of the generalized-pain rule.
    """

    key: str
    label: str
    region: str
    generalized: bool = True


REGIONS: tuple[Region, ...] = (
    Region("left_upper", "Left upper body"),
    Region("right_upper", "Right upper body"),
    Region("left_lower", "Left lower body"),
    Region("right_lower", "Right lower body"),
    Region("axial", "Neck, back, chest and abdomen"),
)

PAIN_AREAS: tuple[PainArea, ...] = (
    PainArea("jaw_left", "Left jaw", "left_upper", generalized=False),
    PainArea("shoulder_girdle_left", "Left shoulder", "left_upper"),
    PainArea("upper_arm_left", "Left upper arm", "left_upper"),
    PainArea("lower_arm_left", "Left lower arm", "left_upper"),
    PainArea("jaw_right", "Right jaw", "right_upper", generalized=False),
    PainArea("shoulder_girdle_right", "Right shoulder", "right_upper"),
    PainArea("upper_arm_right", "Right upper arm", "right_upper"),
    PainArea("lower_arm_right", "Right lower arm", "right_upper"),
    PainArea("hip_left", "Left hip (buttock)", "left_lower"),
    PainArea("upper_leg_left", "Left upper leg", "left_lower"),
    PainArea("lower_leg_left", "Left lower leg", "left_lower"),
    PainArea("hip_right", "Right hip (buttock)", "right_lower"),
    PainArea("upper_leg_right", "Right upper leg", "right_lower"),
    PainArea("lower_leg_right", "Right lower leg", "right_lower"),
    PainArea("neck", "Neck", "axial"),
    PainArea("upper_back", "Upper back", "axial"),
    PainArea("lower_back", "Lower back", "axial"),
    PainArea("chest", "Chest", "axial", generalized=False),
    PainArea("abdomen", "Abdomen (belly)", "axial", generalized=False),
)

PAIN_AREA_KEYS: tuple[str, ...] = tuple(area.key for area in PAIN_AREAS)
