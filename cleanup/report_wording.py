"""The words and numbers of the reports, in English and French."""

from __future__ import annotations

import math
import time

from .footprint import Range

LANGUAGES = ("en", "fr")

_LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "Storage clean-up report", "fr": "Rapport de nettoyage du stockage"},
    "summary": {"en": "Summary", "fr": "Synthèse"},
    "contents": {"en": "Contents", "fr": "Sommaire"},
    "headline": {
        "en": "Estimated storage footprint no longer attributed to this data: about {c} kgCO2e per year (range {l}–{h})",
        "fr": "Empreinte de stockage estimée qui n'est plus attribuée à ces données : environ {c} kgCO2e par an (fourchette {l}–{h})",
    },
    "headline_none": {
        "en": "Estimated storage footprint no longer attributed to this data: none measurable",
        "fr": "Empreinte de stockage estimée qui n'est plus attribuée à ces données : aucune mesurable",
    },
    "local_note": {
        "en": "Local deletions: no measurable energy saving; the benefit is longer equipment life.",
        "fr": "Suppressions locales : pas d'économie d'énergie mesurable ; le bénéfice est une durée de vie plus longue des équipements.",
    },
    "first_year": {
        "en": "In the year of the clean-up, allowing for the days spent in recycle bins: about {c} kgCO2e (range {l}–{h}).",
        "fr": "L'année du nettoyage, compte tenu des jours passés en corbeille : environ {c} kgCO2e (fourchette {l}–{h}).",
    },
    "pending_note": {
        "en": "A further {size} is still in trash or recycle bins, not counted as freed; once the bins free it: about {c} kgCO2e per year (range {l}–{h}).",
        "fr": "{size} supplémentaires sont encore en corbeille, non comptés comme libérés ; une fois les corbeilles vidées : environ {c} kgCO2e par an (fourchette {l}–{h}).",
    },
    "pending_note_backups": {
        "en": "A further {size} is still in trash or recycle bins or in backups, not counted as freed; once freed: about {c} kgCO2e per year (range {l}–{h}).",
        "fr": "{size} supplémentaires sont encore en corbeille ou en sauvegarde, non comptés comme libérés ; une fois libérés : environ {c} kgCO2e par an (fourchette {l}–{h}).",
    },
    "car": {
        "en": "For scale: about {c} km by thermal car (range {l}–{h}).",
        "fr": "Pour comparaison : environ {c} km en voiture thermique (fourchette {l}–{h}).",
    },
    "avoided": {
        "en": "Avoided purchase (opt-in, one-off): the local space freed spares about {kg} kgCO2e of external disk manufacturing.",
        "fr": "Achat évité (option, ponctuel) : l'espace local libéré évite environ {kg} kgCO2e de fabrication de disque externe.",
    },
    "totals": {"en": "Bytes by state", "fr": "Octets par état"},
    "state": {"en": "State", "fr": "État"},
    "bytes": {"en": "Size", "fr": "Taille"},
    "items": {"en": "Items", "fr": "Éléments"},
    "freed": {"en": "Freed", "fr": "Libéré"},
    "versions": {"en": "of which old versions trimmed", "fr": "dont anciennes versions supprimées"},
    "pending": {"en": "Pending (in a bin)", "fr": "En attente (en corbeille)"},
    "archived": {"en": "Archived (moved, not freed)", "fr": "Archivé (déplacé, non libéré)"},
    "footprint": {
        "en": "Footprint no longer attributed, per year",
        "fr": "Empreinte qui n'est plus attribuée, par an",
    },
    "measure": {"en": "Measure", "fr": "Grandeur"},
    "low": {"en": "Low", "fr": "Basse"},
    "central": {"en": "Central", "fr": "Centrale"},
    "high": {"en": "High", "fr": "Haute"},
    "kwh": {"en": "Energy (kWh/yr)", "fr": "Énergie (kWh/an)"},
    "co2_operational_kg": {"en": "Operational (kgCO2e/yr)", "fr": "Exploitation (kgCO2e/an)"},
    "co2_embodied_kg": {"en": "Embodied (kgCO2e/yr)", "fr": "Fabrication (kgCO2e/an)"},
    "co2_kg": {"en": "Total (kgCO2e/yr)", "fr": "Total (kgCO2e/an)"},
    "by_provider": {"en": "Freed by provider", "fr": "Libéré par service"},
    "by_location": {"en": "Freed by location", "fr": "Libéré par lieu de stockage"},
    "by_kind": {"en": "Freed by kind of file", "fr": "Libéré par type de fichier"},
    "by_team": {"en": "Freed by team or owner", "fr": "Libéré par équipe ou propriétaire"},
    "name": {"en": "Name", "fr": "Nom"},
    "provider": {"en": "Provider", "fr": "Service"},
    "location": {"en": "Location", "fr": "Lieu"},
    "kind": {"en": "Kind", "fr": "Type"},
    "team": {"en": "Team", "fr": "Équipe"},
    "co2_central": {"en": "kgCO2e/yr (central)", "fr": "kgCO2e/an (central)"},
    "chart_alt": {
        "en": "Bar chart of {unit} freed {what}. The same figures are in the table below.",
        "fr": "Diagramme en barres des {unit} libérés {what}. Les mêmes chiffres figurent dans le tableau ci-dessous.",
    },
    "chart_by_provider": {"en": "by provider", "fr": "par service"},
    "chart_by_kind": {"en": "by kind of file", "fr": "par type de fichier"},
    "backup_freed": {
        "en": "Backup copies freed (opt-in)",
        "fr": "Copies de sauvegarde libérées (option)",
    },
    "backup_pending": {
        "en": "Backup copies still kept (opt-in)",
        "fr": "Copies de sauvegarde encore conservées (option)",
    },
    "backups": {
        "en": "Backups counted (opt-in): one more logical copy of each freed item, freed {days} days after it.",
        "fr": "Sauvegardes comptées (option) : une copie logique de plus par élément libéré, libérée {days} jours après lui.",
    },
    "held_by": {"en": "Held by", "fr": "Conservé par"},
    "held_by_bin": {"en": "trash or recycle bin", "fr": "corbeille"},
    "held_by_backup": {"en": "backup", "fr": "sauvegarde"},
    "pending_title": {"en": "Still pending", "fr": "Encore en attente"},
    "until": {"en": "Freed on", "fr": "Libéré le"},
    "never": {
        "en": "when the bin is emptied by hand",
        "fr": "quand la corbeille sera vidée à la main",
    },
    "quotas": {"en": "Quota before and after, per drive", "fr": "Quota avant et après, par espace"},
    "drive": {"en": "Drive", "fr": "Espace"},
    "quota_total": {"en": "Quota", "fr": "Quota"},
    "before": {"en": "Used before", "fr": "Utilisé avant"},
    "after": {"en": "Used after", "fr": "Utilisé après"},
    "unlimited": {"en": "unlimited", "fr": "illimité"},
    "wins": {"en": "Biggest wins", "fr": "Plus gros gains"},
    "item": {"en": "Item", "fr": "Élément"},
    "methodology": {"en": "Methodology", "fr": "Méthodologie"},
    "scope": {
        "en": "Scope: storage at rest only (no transmission, no devices' use). Bytes are storage bytes, old versions included. "
        "The footprint is an estimate, in ranges: low and high take every low or every high parameter together; they are bounds, not a confidence interval.",
        "fr": "Périmètre : stockage au repos uniquement (ni transmission, ni usage des terminaux). Les octets sont ceux réellement stockés, anciennes versions comprises. "
        "L'empreinte est une estimation, en fourchettes : les bornes basse et haute prennent tous les paramètres bas ou tous les hauts ; ce sont des bornes, pas un intervalle de confiance.",
    },
    "formula": {"en": "Model", "fr": "Modèle"},
    "states_text": {
        "en": "Freed: deleted permanently, emptied from a bin, old versions trimmed, or trashed into a bin whose retention has passed. "
        "Pending: still in a trash or recycle bin, still billed, until the date shown (SharePoint/OneDrive keep 93 days, Google Drive 30). "
        "Archived: moved elsewhere, not freed. Undone, skipped and failed actions count nothing. "
        "Local disks count 0 kWh and 0 kg: a disk draws the same power full or empty.",
        "fr": "Libéré : supprimé définitivement, vidé d'une corbeille, anciennes versions supprimées, ou mis dans une corbeille dont la rétention est passée. "
        "En attente : encore dans une corbeille, toujours facturé, jusqu'à la date indiquée (SharePoint/OneDrive gardent 93 jours, Google Drive 30). "
        "Archivé : déplacé ailleurs, non libéré. Les actions annulées, ignorées ou échouées ne comptent pas. "
        "Les disques locaux comptent 0 kWh et 0 kg : un disque consomme autant plein que vide.",
    },
    "parameters": {"en": "Parameters", "fr": "Paramètres"},
    "changed": {
        "en": "Changed from the table cleanup ships (--factors): {names}.",
        "fr": "Modifiés par rapport à la table fournie avec cleanup (--factors) : {names}.",
    },
    "parameter": {"en": "Parameter", "fr": "Paramètre"},
    "source": {"en": "Source", "fr": "Source"},
    "edition": {"en": "Edition", "fr": "Édition"},
    "references": {
        "en": "Reference points (kgCO2e per TB-year)",
        "fr": "Points de repère (kgCO2e par To-an)",
    },
    "reference": {"en": "Reference", "fr": "Référence"},
    "value": {"en": "Value", "fr": "Valeur"},
    "references_note": {
        "en": 'Figures such as "19 kg per GB" or "3–7 kWh per GB" come from transmission studies or errors and are not used.',
        "fr": "Les chiffres du type « 19 kg par Go » ou « 3–7 kWh par Go » viennent d'études sur la transmission ou d'erreurs et ne sont pas utilisés.",
    },
    "made_by": {
        "en": "Made with cleanup {version} on {date}.",
        "fr": "Produit avec cleanup {version} le {date}.",
    },
    "runs": {"en": "Runs counted: {runs}.", "fr": "Exécutions comptées : {runs}."},
    "merged": {
        "en": "Merged from {n} reports; an item present in several is counted once.",
        "fr": "Fusion de {n} rapports ; un élément présent dans plusieurs n'est compté qu'une fois.",
    },
    "privacy": {
        "en": "Aggregated report: no file names, paths or personal names; owners are pseudonymised.",
        "fr": "Rapport agrégé : ni noms de fichiers, ni chemins, ni noms de personnes ; les propriétaires sont pseudonymisés.",
    },
    "nothing": {
        "en": "No apply run freed, trashed or archived anything yet.",
        "fr": "Aucune exécution n'a encore rien libéré, mis en corbeille ou archivé.",
    },
    "potential": {
        "en": "If all of this is cleaned up: estimated storage footprint no longer attributed to it, about {c} kgCO2e per year (range {l}–{h}) once the bins are emptied.",
        "fr": "Si tout ceci est nettoyé : empreinte de stockage estimée qui ne lui serait plus attribuée, environ {c} kgCO2e par an (fourchette {l}–{h}) une fois les corbeilles vidées.",
    },
    "potential_local": {
        "en": "If all of this is cleaned up: it is all on local disks, so no measurable energy saving; the benefit is longer equipment life.",
        "fr": "Si tout ceci est nettoyé : tout est sur des disques locaux, donc pas d'économie d'énergie mesurable ; le bénéfice est une durée de vie plus longue des équipements.",
    },
    "potential_none": {
        "en": "Nothing reclaimable was found.",
        "fr": "Rien de récupérable n'a été trouvé.",
    },
    "unknown": {"en": "unknown", "fr": "inconnu"},
    "table": {"en": "Table: {}", "fr": "Tableau : {}"},
    "local": {"en": "local disk", "fr": "disque local"},
    "microsoft": {"en": "Microsoft (SharePoint/OneDrive)", "fr": "Microsoft (SharePoint/OneDrive)"},
    "google": {"en": "Google Drive", "fr": "Google Drive"},
    "documents": {"en": "documents", "fr": "documents"},
    "images": {"en": "images", "fr": "images"},
    "video": {"en": "video", "fr": "vidéo"},
    "audio": {"en": "audio", "fr": "audio"},
    "archives": {"en": "archives", "fr": "archives"},
    "other": {"en": "other", "fr": "autres"},
}

# FOOTPRINT.md's reference points, kgCO2e per TB-year, low and high where a range is published.
REFERENCES: tuple[tuple[str, float, float], ...] = (
    ('ADEME Impact CO2 "stocker 1 Go pendant 1 an"', 0.235, 0.235),
    ("this model, central", 25.0, 25.0),
    ("ADEME e-mail model", 53.0, 53.0),
    ("UBA Green Cloud Computing 2021", 166.0, 280.0),
    ("Digital Cleanup Day flat 0.25 kg per GB deleted", 250.0, 250.0),
)

MODEL = (
    "phys_TB = S_TB × R × F\n"
    "kWh     = phys_TB × P × PUE × 8.76 × T × a\n"
    "CO2_op  = kWh × EF\n"
    "CO2_emb = phys_TB × EE / L × T × a\n"
    "a       = (365 − lag_days) / 365 in year 1, 1 afterwards"
)


def label(key: str, lang: str) -> str:
    """A label in ``lang``; unknown keys (provider names, kinds) are returned as they are."""
    entry = _LABELS.get(key)
    return entry.get(lang, entry["en"]) if entry else key


def number(x: float, lang: str, decimals: int = 0) -> str:
    """A number with the language's separators: 1,250.5 or 1 250,5."""
    text = f"{x:,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def figure(x: float, lang: str = "en") -> str:
    """Three significant figures: 11.7, 56.1, 259, 0.540."""
    if x == 0 or not math.isfinite(x):
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return number(round(x, decimals), lang, decimals)


def about(x: float, lang: str = "en") -> str:
    """A rounded figure for a sentence: 25, 177, 1, 2.9, 0.54."""
    if x == 0 or not math.isfinite(x):
        return "0"
    if abs(x) >= 10:
        return number(round(x), lang)
    if abs(x) >= 1:
        text = number(x, lang, 1)
        return text[:-2] if text[-2:] in (".0", ",0") else text
    decimals = 1 - math.floor(math.log10(abs(x)))
    return number(round(x, decimals), lang, decimals)


def km(x: float, lang: str = "en") -> str:
    """Kilometres for a sentence: 7, 180, 1,250."""
    return number(round(x) if x < 100 else round(x, -1), lang)


def sentence(key: str, r: Range, lang: str, fmt: object = about, **extra: str) -> str:
    """A labelled sentence with a range filled in."""
    f = fmt if callable(fmt) else about
    return label(key, lang).format(
        c=f(r.central, lang), l=f(r.low, lang), h=f(r.high, lang), **extra
    )


def headline(co2: Range, lang: str) -> str:
    """FOOTPRINT.md's sentence: never 'you saved'."""
    if co2.high <= 0:
        return label("headline_none", lang)
    return sentence("headline", co2, lang)


def size(n: float | None, lang: str = "en") -> str:
    """Decimal units, as storage is billed: 1.2 GB, 1,2 Go."""
    n = float(n or 0)
    units = (
        ("B", "kB", "MB", "GB", "TB", "PB") if lang != "fr" else ("o", "ko", "Mo", "Go", "To", "Po")
    )
    step = 0
    while abs(n) >= 1000 and step < len(units) - 1:
        n /= 1000
        step += 1
    return f"{number(n, lang, 0 if step == 0 else 1)} {units[step]}"


_SCALES = (
    (1e12, ("TB", "terabytes"), ("To", "téraoctets")),
    (1e9, ("GB", "gigabytes"), ("Go", "gigaoctets")),
    (1e6, ("MB", "megabytes"), ("Mo", "mégaoctets")),
    (1e3, ("kB", "kilobytes"), ("ko", "kilooctets")),
    (1.0, ("B", "bytes"), ("o", "octets")),
)


def scale(top: float, lang: str) -> tuple[float, str, str]:
    """One unit for figures up to ``top`` bytes: (bytes per unit, symbol, name), so that a
    clean-up of a few megabytes is not drawn as 0.00 GB."""
    for per, en, fr in _SCALES:
        if top >= per or per == 1.0:
            symbol, name = fr if lang == "fr" else en
            return per, symbol, name
    raise AssertionError("unreachable")


def date(ts: float | None) -> str:
    """An ISO date, the same in every language."""
    return "" if ts is None else time.strftime("%Y-%m-%d", time.gmtime(ts))
