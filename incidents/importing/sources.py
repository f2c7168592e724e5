"""Where the files come from: a folder (recursively), a zip read in memory, or one file; each within its limits.

A zip is never extracted: its members are read into memory one by one, after checking how many there are and
what they declare to unpack to, and each read stops at its limit whatever the header said (a zip bomb). Member
names are only ever used as names: one that is absolute or climbs out with `..` is refused all the same, so
that the external ids stay meaningful. Folders and files whose name starts with a dot (.git, .github) are left
out, and symbolic links are not followed.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from incidents.importing.records import (
    FORMATS,
    MAX_FILES,
    MAX_MARKDOWN_BYTES,
    MAX_TABLE_BYTES,
    MAX_UPLOAD_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_TOTAL_BYTES,
    ImportInputError,
    Problem,
)
from incidents.limits import is_single_line

EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".csv": "csv", ".json": "json"}
MIB = 1024 * 1024


@dataclass(frozen=True)
class SourceFile:
    name: str  # the path relative to the folder or the zip's root, with "/" between its parts
    data: bytes
    format: str


@dataclass
class Gathered:
    files: list[SourceFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # files of no known format


def format_of(name: str, forced: str | None) -> str | None:
    """The format a file is read as: its extension's, and only the --format one when that is given."""
    found = EXTENSIONS.get(os.path.splitext(name)[1].lower())
    return found if forced is None or found == forced else None


def _limit(fmt: str) -> int:
    return MAX_MARKDOWN_BYTES if fmt == "markdown" else MAX_TABLE_BYTES


def _too_big(size: int, fmt: str) -> str:
    return f"{size / MIB:.1f} MiB is larger than the {_limit(fmt) // MIB} MiB a {fmt} file may be; not read."


def _hidden(parts: list[str]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def files_from_path(path: Path, *, forced: str | None = None) -> Gathered:
    """A folder's files (recursively), a zip, or one file. ImportInputError when nothing can be read."""
    if forced is not None and forced not in FORMATS:
        raise ImportInputError(f"--format is one of {', '.join(FORMATS)}.")
    if path.is_dir():
        return _files_from_folder(path, forced=forced)
    if not path.is_file():
        raise ImportInputError(f"{path} is neither a folder nor a file.")
    size = path.stat().st_size
    if path.suffix.lower() == ".zip":
        if size > MAX_UPLOAD_BYTES:
            raise ImportInputError(f"{path.name} is larger than {MAX_UPLOAD_BYTES // MIB} MiB.")
        return files_from_zip(path.read_bytes(), forced=forced)
    fmt = format_of(path.name, None) if forced is None else forced
    if fmt is None:
        raise ImportInputError(f"{path.name}: give a folder, a .zip, .md, .csv or .json file (or --format).")
    if size > _limit(fmt):
        raise ImportInputError(f"{path.name}: {_too_big(size, fmt)}")
    return Gathered(files=[SourceFile(path.name, _read_bounded(path, _limit(fmt)), fmt)])


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as stream:
        return stream.read(limit + 1)


def _files_from_folder(root: Path, *, forced: str | None) -> Gathered:
    gathered = Gathered()
    for folder, folders, names in os.walk(root, followlinks=False):
        folders[:] = sorted(name for name in folders if not _hidden([name]))
        for name in sorted(names):
            path = Path(folder, name)
            relative = path.relative_to(root).as_posix()
            fmt = format_of(name, forced)
            if _hidden([name]) or fmt is None:
                gathered.skipped += 1
                continue
            if len(gathered.files) >= MAX_FILES:
                raise ImportInputError(f"{root} holds more than {MAX_FILES} files to import; import it in parts.")
            _add_folder_file(gathered, path, relative, fmt)
    return gathered


def _add_folder_file(gathered: Gathered, path: Path, relative: str, fmt: str) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        gathered.problems.append(Problem(relative, "A symbolic link or special file; not followed."))
    elif info.st_size > _limit(fmt):
        gathered.problems.append(Problem(relative, _too_big(info.st_size, fmt)))
    else:
        data = _read_bounded(path, _limit(fmt))
        if len(data) > _limit(fmt):
            gathered.problems.append(Problem(relative, _too_big(len(data), fmt)))
        else:
            gathered.files.append(SourceFile(relative, data, fmt))


def _safe_member_name(name: str) -> str | None:
    """The member's path with "/" separators, or None when it is absolute, climbs out or is not one line."""
    normal = name.replace("\\", "/")
    parts = normal.split("/")
    if normal.startswith("/") or (len(parts[0]) == 2 and parts[0][1] == ":") or ".." in parts:
        return None
    if not is_single_line(normal):
        return None
    return "/".join(part for part in parts if part not in ("", "."))


def files_from_zip(data: bytes, *, forced: str | None = None) -> Gathered:
    """The members of a zip held in memory, within the limits. ImportInputError for a zip that is not one, holds
    too many members or declares more than MAX_ZIP_TOTAL_BYTES."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise ImportInputError(f"Not a zip file that can be read ({error}).") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise ImportInputError(f"The zip holds {len(members)} entries; at most {MAX_ZIP_MEMBERS}.")
    declared = sum(member.file_size for member in members)
    if declared > MAX_ZIP_TOTAL_BYTES:
        raise ImportInputError(
            f"The zip would unpack to {declared / MIB:.0f} MiB; at most {MAX_ZIP_TOTAL_BYTES // MIB} MiB."
        )
    gathered, total = Gathered(), 0
    for member in members:
        if member.is_dir():
            continue
        total += _add_member(gathered, archive, member, forced=forced)
        if total > MAX_ZIP_TOTAL_BYTES:  # the headers lied: stop at the limit all the same
            raise ImportInputError(f"The zip unpacks to more than {MAX_ZIP_TOTAL_BYTES // MIB} MiB.")
        if len(gathered.files) > MAX_FILES:
            raise ImportInputError(f"The zip holds more than {MAX_FILES} files to import; import it in parts.")
    return gathered


def _add_member(
    gathered: Gathered, archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, forced: str | None
) -> int:
    """Read one member into `gathered` (or note why not); returns the bytes read."""
    name = _safe_member_name(member.filename)
    if name is None:
        shown = member.filename.encode("unicode_escape").decode()[:200]
        gathered.problems.append(Problem(shown, "An absolute path or one that climbs out (..); not read."))
        return 0
    fmt = format_of(name, forced)
    if fmt is None or _hidden(name.split("/")):
        gathered.skipped += 1
        return 0
    if stat.S_ISLNK(member.external_attr >> 16):
        gathered.problems.append(Problem(name, "A symbolic link; not followed."))
        return 0
    if member.file_size > _limit(fmt):
        gathered.problems.append(Problem(name, _too_big(member.file_size, fmt)))
        return 0
    try:
        with archive.open(member) as stream:
            content = stream.read(_limit(fmt) + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, ValueError) as error:
        gathered.problems.append(Problem(name, f"Cannot be unpacked ({error})."))
        return 0
    if len(content) > _limit(fmt):
        gathered.problems.append(Problem(name, _too_big(len(content), fmt)))
    else:
        gathered.files.append(SourceFile(name, content, fmt))
    return len(content)


def files_from_upload(name: str, data: bytes, *, forced: str | None = None) -> Gathered:
    """An uploaded zip (by its content), or one .md, .csv or .json file."""
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        return files_from_zip(data, forced=forced)
    base = os.path.basename(name.replace("\\", "/")) or "upload"
    base = base if is_single_line(base) else "upload"
    fmt = format_of(base, None) if forced is None else forced
    if fmt is None:
        raise ImportInputError("Upload a .zip, or a .md, .csv or .json file (or choose its format).")
    if len(data) > _limit(fmt):
        raise ImportInputError(f"{base}: {_too_big(len(data), fmt)}")
    return Gathered(files=[SourceFile(base, data, fmt)])


class BoundedMemoryUpload(FileUploadHandler):
    """Keeps an uploaded file in memory up to `max_bytes` and drops it past that (`too_large` is then set), so
    that an upload never reaches the disk and a huge one costs no memory. `max_bytes` bounds all the files of the
    request together (a form posting many file parts holds no more). Set it on the request before the form is
    read."""

    def __init__(self, request=None, *, max_bytes: int | None = None) -> None:
        super().__init__(request)
        self.max_bytes = MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
        self.too_large = False
        self.buffer = io.BytesIO()
        self.received = 0  # bytes of every file of this request so far

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_large = True
            raise SkipFile
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            self.buffer, self.field_name, self.file_name, self.content_type, file_size, self.charset,
            self.content_type_extra,
        )  # fmt: skip
