#!/usr/bin/env bash
# Re-extract the message ids and merge them into the vi and en catalogs.
# Then translate every new or fuzzy entry in web/translations/vi/LC_MESSAGES/messages.po
# (and, in en, only the msgids that are Vietnamese in the source). The .mo files are
# compiled by web/i18n.py when the app starts.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
POT=web/translations/messages.pot

"$PYBABEL" extract -F babel.cfg --no-default-keywords \
    -k _ -k gettext -k ngettext:1,2 -k N_ \
    -k EngineError -k Invalid -k Forbidden -k Conflict -k NotFound -k Unauthorized -k DeployError \
    --sort-by-file --project=ioc -o "$POT" .

for lang in vi en; do
    if [ -f "web/translations/$lang/LC_MESSAGES/messages.po" ]; then
        "$PYBABEL" update -i "$POT" -d web/translations -l "$lang"
    else
        "$PYBABEL" init -i "$POT" -d web/translations -l "$lang"
    fi
done
