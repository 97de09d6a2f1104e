#!/usr/bin/env bash
# Rebuilds the poster font: WenQuanYi Micro Hei (文泉驿微米黑; Apache License 2.0, or GPL-3+ with
# the font exception: we take it under Apache 2.0; Debian package fonts-wqy-microhei), cut down
# with pyftsubset (Debian package fonttools) to printable ASCII, GB 2312's characters and a few
# punctuation marks. chars.txt then lists every character the subset really has (read from its
# cmap); internal/event refuses an event title or place with a character outside it, so a
# poster never prints a blank box.
# Usage: internal/event/font/subset.sh (from anywhere).
set -euo pipefail
cd "$(dirname "$0")"
src=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
[[ -f $src ]] || { echo "subset.sh: $src missing: apt-get install fonts-wqy-microhei" >&2; exit 1; }
command -v pyftsubset >/dev/null || { echo "subset.sh: pyftsubset missing: apt-get install fonttools" >&2; exit 1; }
py=/usr/bin/python3 # Debian's, which has fonttools
want="$(mktemp)"
trap 'rm -f "$want"' EXIT
"$py" - "$want" <<'PY'
import sys
chars = {chr(c) for c in range(0x20, 0x7f)}
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        try:
            chars.add(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
chars.update("（）：，。、；！？“”‘’《》—…·")
open(sys.argv[1], "w", encoding="utf-8").write("".join(sorted(chars)))
PY
pyftsubset "$src" --font-number=0 --text-file="$want" --output-file=WenQuanYiMicroHei-GB2312.ttf \
	--no-hinting --drop-tables+=GSUB,GPOS,GDEF,kern --name-IDs='*'
"$py" - <<'PY'
from fontTools.ttLib import TTFont
cmap = TTFont("WenQuanYiMicroHei-GB2312.ttf").getBestCmap()
open("chars.txt", "w", encoding="utf-8").write("".join(chr(c) for c in sorted(cmap) if c >= 0x20))
PY
ls -l WenQuanYiMicroHei-GB2312.ttf chars.txt
