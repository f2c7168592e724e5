"""Accounts that single sign-on keeps: team memberships taken from the identity provider's groups (docs/sso.md).

OIDC_GROUP_MAP names the teams that single sign-on manages: for those teams a person's membership and role follow
their groups at every sign-in (added, role set, removed when no group grants it any more). Memberships of other
teams are the admin's, and left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from incidents.audit import audit_record
from incidents.models import Membership, Team

logger = logging.getLogger(__name__)

# group name → (team slug, role), as config/env.py's env_group_map reads OIDC_GROUP_MAP.
GroupMap = Mapping[str, tuple[str, str]]


@dataclass
class MembershipChanges:
    added: list[str] = field(default_factory=list)  # team slugs
    role_changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unknown_teams: list[str] = field(default_factory=list)  # slugs of the map that no team has


def group_map_unknown_teams(group_map: GroupMap | None = None) -> list[str]:
    """The team slugs of the group map that no team has, sorted."""
    group_map = settings.OIDC_GROUP_MAP if group_map is None else group_map
    slugs = {slug for slug, _ in group_map.values()}
    known = set(Team.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    return sorted(slugs - known)


def _wanted_roles(groups: Collection[str], group_map: GroupMap) -> dict[str, str]:
    """Team slug → the role the groups grant there (lead wins over member when several groups name a team)."""
    wanted: dict[str, str] = {}
    for group in groups:
        if group in group_map:
            slug, role = group_map[group]
            if wanted.get(slug) != Membership.Role.LEAD:
                wanted[slug] = role
    return wanted


@transaction.atomic
def memberships_sync(
    *, user: User, groups: Collection[str], group_map: GroupMap | None = None
) -> MembershipChanges:
    """Make the user's memberships of the teams the map manages follow `groups`; other teams are untouched."""
    group_map = settings.OIDC_GROUP_MAP if group_map is None else group_map
    changes = MembershipChanges(unknown_teams=group_map_unknown_teams(group_map))
    if changes.unknown_teams:
        logger.warning("OIDC_GROUP_MAP names teams that do not exist: %s", ", ".join(changes.unknown_teams))
    managed = {team.slug: team for team in Team.objects.filter(slug__in={s for s, _ in group_map.values()})}
    wanted = _wanted_roles(groups, group_map)
    current = {
        m.team.slug: m
        for m in Membership.objects.filter(user=user, team__in=managed.values()).select_related("team")
    }
    for slug, membership in current.items():
        if slug not in wanted:
            audit_record(obj=membership, action="membership.removed_by_sso")
            membership.delete()
            changes.removed.append(slug)
        elif membership.role != wanted[slug]:
            before = membership.role
            membership.role = wanted[slug]
            membership.save(update_fields=["role"])
            audit_record(
                obj=membership, action="membership.role_set_by_sso", changes={"role": [before, membership.role]}
            )
            changes.role_changed.append(slug)
    for slug, role in wanted.items():
        if slug in managed and slug not in current:
            membership = Membership.objects.create(user=user, team=managed[slug], role=role)
            audit_record(obj=membership, action="membership.added_by_sso", changes={"role": [None, role]})
            changes.added.append(slug)
    return changes
