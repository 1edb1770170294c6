"""`--series` on Ray: the episodes are grouped by their folder (one folder, one season), analysed
on the actors like any film, and once every episode of a folder has settled the folder's
cross-episode pass runs on an actor (`AnalysisWorker.match_series`) over the episodes done.

The pass is recorded in the journal under the folder's path, its identity being the identities
of the episodes it compared: a rerun runs it again only when an episode of the folder was
analysed in that run or the recorded pass was made from other episodes or settings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filmline.engine.errors import BadInputError
from filmline.engine.library.journal import DONE, FAILED, Journal


@dataclass
class Season:
    """One folder's episodes and what is known of them in this run."""

    folder: Path
    episodes: list[Path]
    analysed_here: bool = False  # an episode was (or is being) analysed in this run
    queued: bool = False  # its pass has been handed out

    def settled(self, rows: dict[Path, dict[str, Any]]) -> bool:
        return all(rows.get(e, {}).get("state") in (DONE, FAILED) for e in self.episodes)

    def done_episodes(self, rows: dict[Path, dict[str, Any]]) -> list[Path]:
        return [e for e in self.episodes if rows[e]["state"] == DONE]


@dataclass
class Seasons:
    """The run's seasons, by folder, and the identities their passes are recorded with."""

    by_folder: dict[Path, Season] = field(default_factory=dict)

    @classmethod
    def of(cls, videos: list[Path]) -> "Seasons":
        """The videos grouped by folder; a folder with a single episode is refused before any work
        (matching needs two, as on one machine)."""
        groups: dict[Path, list[Path]] = defaultdict(list)
        for video in videos:
            groups[video.resolve().parent].append(video)
        lonely = [str(folder) for folder, episodes in groups.items() if len(episodes) < 2]
        if lonely:
            raise BadInputError(
                f"--series: {', '.join(lonely)} {'has' if len(lonely) == 1 else 'have'} one episode; cross-episode "
                "matching needs at least two per folder: add the folder's other episodes or leave it out"
            )
        return cls({folder: Season(folder, episodes) for folder, episodes in groups.items()})

    def of_episode(self, video: Path) -> Season:
        return self.by_folder[video.resolve().parent]

    def ready(self, rows: dict[Path, dict[str, Any]], journal: Journal, identities: dict[Path, dict[str, Any]],
              fingerprint: str) -> list[Season]:
        """Seasons whose episodes have all settled and whose pass is not up to date, not yet queued."""
        found = []
        for season in self.by_folder.values():
            if season.queued or not season.settled(rows):
                continue
            entry = journal.entry(season.folder)
            up_to_date = (entry is not None and entry["state"] == DONE and entry["settings_hash"] == fingerprint
                          and entry["identity"] == pass_identity(season, rows, identities))
            if season.analysed_here or not up_to_date:
                season.queued = True
                found.append(season)
        return found


def pass_identity(season: Season, rows: dict[Path, dict[str, Any]], identities: dict[Path, dict[str, Any]]) -> dict:
    """What a folder's pass was made from: each episode it compared, by path and identity."""
    return {"episodes": {str(e.resolve()): identities[e] for e in season.done_episodes(rows)}}
