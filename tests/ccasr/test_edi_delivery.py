"""Delivery through the partner's folder and by SFTP, against an asyncssh SFTP server run in a
thread on loopback, on a port the OS picks. Every transfer is recorded."""

import asyncio
import hashlib
import threading

import asyncssh
import pytest
from django.core.management import CommandError, call_command

from optouts.models import EdiTransfer


class SftpServer:
    """An in-process SFTP server rooted in a temporary folder, accepting one client key."""

    def __init__(self, root, client_public_key):
        self.root, self.client_key = root, client_public_key
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the SFTP server did not start"
        return self

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await asyncssh.create_server(
                asyncssh.SSHServer,
                "127.0.0.1",
                0,
                server_host_keys=[self.host_key],
                authorized_client_keys=asyncssh.import_authorized_keys(self.client_key),
                sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(self.root)),
            )
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def __exit__(self, *exc):
        async def stop():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def sftp(tmp_path, partner):
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(client_key.export_private_key())
    root = tmp_path / "sftp-root"
    (root / "inbound").mkdir(parents=True)
    (root / "outbound").mkdir()
    with SftpServer(root, client_key.export_public_key().decode()) as server:
        known = tmp_path / "known_hosts"
        known.write_text(
            f"[127.0.0.1]:{server.port} {server.host_key.export_public_key().decode()}"
        )
        partner.folder = str(tmp_path / "exchange")
        partner.sftp_host, partner.sftp_port = "127.0.0.1", server.port
        partner.sftp_username, partner.sftp_key_file = "cca", str(key_file)
        partner.sftp_known_hosts = str(known)
        partner.save()
        yield root


def test_folder_only_delivery_is_recorded(program, partner, tmp_path):
    partner.folder = str(tmp_path / "exchange")
    partner.save()
    f = tmp_path / "CCASR_X.x12"
    f.write_bytes(b"ISA...")
    call_command("edi_transfer", "--program", program.slug, "--send", str(f))
    assert (tmp_path / "exchange" / "outbound" / "CCASR_X.x12").read_bytes() == b"ISA..."
    (t,) = EdiTransfer.objects.all()
    assert (t.direction, t.method, t.bytes, t.result) == ("out", "folder", 6, "ok")
    assert t.sha256 == hashlib.sha256(b"ISA...").hexdigest()


def test_sftp_send_and_receive_on_loopback(program, sftp, tmp_path):
    f = tmp_path / "CCASR_Y.x12"
    f.write_bytes(b"ISA*00*...~\n")
    call_command("edi_transfer", "--program", program.slug, "--send", str(f))
    assert (sftp / "inbound" / "CCASR_Y.x12").read_bytes() == f.read_bytes()
    assert not list((sftp / "inbound").glob("*.part"))
    up = EdiTransfer.objects.get(method="sftp")
    assert (up.direction, up.result, up.bytes) == ("out", "ok", len(f.read_bytes()))
    assert up.remote.endswith("inbound/CCASR_Y.x12")
    # The utility's answer waits in its outbound folder: fetched once, recorded once.
    (sftp / "outbound" / "RESP_1.x12").write_bytes(b"ISA*answer~")
    call_command("edi_transfer", "--program", program.slug, "--receive")
    got = tmp_path / "exchange" / "inbound" / "RESP_1.x12"
    assert got.read_bytes() == b"ISA*answer~"
    down = EdiTransfer.objects.get(direction="in")
    assert (down.method, down.result, down.sha256) == (
        "sftp",
        "ok",
        hashlib.sha256(b"ISA*answer~").hexdigest(),
    )
    call_command("edi_transfer", "--program", program.slug, "--receive")
    assert EdiTransfer.objects.filter(direction="in").count() == 1


def test_a_failed_upload_is_recorded_and_the_command_fails(program, sftp, tmp_path, partner):
    partner.sftp_known_hosts = str(tmp_path / "empty_known_hosts")
    (tmp_path / "empty_known_hosts").write_text("")
    partner.save()
    f = tmp_path / "CCASR_Z.x12"
    f.write_bytes(b"ISA")
    with pytest.raises(CommandError, match="1 transfer"):
        call_command("edi_transfer", "--program", program.slug, "--send", str(f))
    failed = EdiTransfer.objects.get(method="sftp")
    assert failed.result == "failed" and failed.error
    assert not (sftp / "inbound" / "CCASR_Z.x12").exists()  # an unknown host key gets nothing
