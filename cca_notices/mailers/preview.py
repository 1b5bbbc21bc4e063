"""PDF pages to PNG for staff previews. Uses poppler's `pdftoppm` at runtime (poppler-utils)."""

import subprocess
import tempfile
from pathlib import Path


class PreviewUnavailable(RuntimeError):
    pass


def pdf_page_png(pdf: bytes, *, page: int = 1, dpi: int = 110) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "letter.pdf"
        src.write_bytes(pdf)
        try:
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    str(dpi),
                    "-f",
                    str(page),
                    "-l",
                    str(page),
                    "-singlefile",
                    str(src),
                    str(Path(tmp) / "page"),
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        except FileNotFoundError:
            raise PreviewUnavailable(
                "pdftoppm is not installed (apt-get install poppler-utils)"
            ) from None
        except subprocess.CalledProcessError as exc:
            raise PreviewUnavailable(
                f"pdftoppm failed: {exc.stderr.decode(errors='replace')[:200]}"
            ) from None
        return (Path(tmp) / "page.png").read_bytes()
