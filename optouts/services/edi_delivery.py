"""Moving the trading partner's files (docs/formats/ccasr-edi.md "Delivery"): through the
partner's exchange folder (`outbound/`, `inbound/`), and by SFTP when the profile names a host.
Every transfer is an `EdiTransfer` row: file, direction, when, bytes, SHA-256, result.

SFTP uses asyncssh (its client here, its server in the tests); the host key is checked against
the profile's known_hosts file (or the user's), never skipped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
from pathlib import Path, PurePosixPath

import asyncssh
from django.conf import settings
from django.utils import timezone

from accounts.models import Program, TradingPartner
from accounts.services.files import atomic_copy, atomic_writer
from accounts.services.trading_partners import trading_partner_for
from optouts.models import EdiTransfer

T = EdiTransfer
CONNECT_TIMEOUT_S = 30


def _run(coroutine):
    """The SFTP session to its end. In a thread of its own when this one already runs an event
    loop (an async server, a browser driver), where asyncio.run() is refused."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def partner_folder(partner: TradingPartner) -> Path:
    if partner.folder:
        return Path(partner.folder)
    return Path(settings.VAR_DIR) / "edi" / partner.program.slug


def _record(program, name, direction, method, remote, data: bytes | None, error="") -> T:
    return T.objects.create(
        program=program,
        file_name=name,
        direction=direction,
        method=method,
        remote=remote,
        at=timezone.now(),
        bytes=len(data) if data is not None else 0,
        sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
        result=T.Result.FAILED if error else T.Result.OK,
        error=error,
    )


def _connect(partner: TradingPartner):
    return asyncssh.connect(
        partner.sftp_host,
        port=partner.sftp_port,
        username=partner.sftp_username or None,
        client_keys=[partner.sftp_key_file] if partner.sftp_key_file else (),
        known_hosts=partner.sftp_known_hosts or (),
        connect_timeout=CONNECT_TIMEOUT_S,
    )


async def _sftp_put(partner: TradingPartner, local: Path, size: int) -> str:
    remote_dir = PurePosixPath(partner.sftp_put_dir)
    final, part = remote_dir / local.name, remote_dir / (local.name + ".part")
    async with _connect(partner) as conn, conn.start_sftp_client() as sftp:
        # Upload under a temporary name and rename: the utility never picks up half a file. The
        # rename is on the server, so it stays here, not in accounts/services/files.py.
        await sftp.put(str(local), str(part))
        written = (await sftp.stat(str(part))).size
        if written != size:
            await sftp.remove(str(part))
            raise OSError(f"the server has {written} bytes of {size}")
        await sftp.rename(str(part), str(final))
    return f"{partner.sftp_host}:{final}"


async def _sftp_fetch(partner: TradingPartner, inbox: Path, skip: set[str]) -> list[Path]:
    got = []
    async with _connect(partner) as conn, conn.start_sftp_client() as sftp:
        for name in sorted(await sftp.listdir(partner.sftp_get_dir)):
            if name in (".", "..") or name in skip or name.endswith(".part"):
                continue
            remote = str(PurePosixPath(partner.sftp_get_dir) / name)
            if not await sftp.isfile(remote):
                continue
            # Local, under `.part` (skipped by edi_receive) until whole.
            with atomic_writer(inbox / name) as fh:
                async with sftp.open(remote, "rb") as source:
                    while block := await source.read(1 << 20):
                        fh.write(block)
            got.append(inbox / name)
    return got


def edi_send(*, program: Program, paths) -> list[EdiTransfer]:
    """Copy each file to the partner's outbound folder and, when the profile names an SFTP host,
    upload it. A failed upload is recorded (result `failed`, the error) and not raised: the file
    stays in the folder for the next `edi_transfer --send`."""
    partner = trading_partner_for(program=program)
    outbox = partner_folder(partner) / "outbound"
    outbox.mkdir(parents=True, exist_ok=True)
    transfers = []
    for path in map(Path, paths):
        data = path.read_bytes()
        target = outbox / path.name
        if path.resolve() != target.resolve():
            atomic_copy(path, target)  # as NAME.part, then renamed
        transfers.append(
            _record(program, path.name, T.Direction.OUT, T.Method.FOLDER, str(outbox), data)
        )
        if partner.sftp_host:
            try:
                remote = _run(_sftp_put(partner, target, len(data)))
                transfers.append(
                    _record(program, path.name, T.Direction.OUT, T.Method.SFTP, remote, data)
                )
            except (OSError, asyncssh.Error) as exc:
                transfers.append(
                    _record(
                        program,
                        path.name,
                        T.Direction.OUT,
                        T.Method.SFTP,
                        f"{partner.sftp_host}:{partner.sftp_put_dir}",
                        data,
                        error=f"{exc.__class__.__name__}: {exc}",
                    )
                )
    return transfers


def edi_receive(*, program: Program) -> list[EdiTransfer]:
    """Fetch the partner's new files (by SFTP when configured) into the inbound folder and record
    every file there not yet recorded; they are then imported with import_ccasr_responses or
    reconcile_enrollment."""
    partner = trading_partner_for(program=program)
    inbox = partner_folder(partner) / "inbound"
    inbox.mkdir(parents=True, exist_ok=True)
    received = set(
        T.objects.filter(program=program, direction=T.Direction.IN, result=T.Result.OK).values_list(
            "file_name", flat=True
        )
    )
    transfers = []
    if partner.sftp_host:
        try:
            fetched = _run(_sftp_fetch(partner, inbox, received))
        except (OSError, asyncssh.Error) as exc:
            return [
                _record(
                    program,
                    "",
                    T.Direction.IN,
                    T.Method.SFTP,
                    f"{partner.sftp_host}:{partner.sftp_get_dir}",
                    None,
                    error=f"{exc.__class__.__name__}: {exc}",
                )
            ]
        for path in fetched:
            transfers.append(
                _record(
                    program,
                    path.name,
                    T.Direction.IN,
                    T.Method.SFTP,
                    f"{partner.sftp_host}:{PurePosixPath(partner.sftp_get_dir) / path.name}",
                    path.read_bytes(),
                )
            )
            received.add(path.name)
    for path in sorted(inbox.iterdir()):
        if path.is_file() and not path.name.endswith(".part") and path.name not in received:
            transfers.append(
                _record(
                    program,
                    path.name,
                    T.Direction.IN,
                    T.Method.FOLDER,
                    str(inbox),
                    path.read_bytes(),
                )
            )
    return transfers
