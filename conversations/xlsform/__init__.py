"""XLSForm (the spreadsheet format of ODK and Kobo) to and from our format (pure).

Sheets are lists of rows, each a dict column -> cell text; reading and writing
the .xlsx file is the command line's job (`bot/cli/xlsform.py`).

Standard columns: `type`, `name`, `label`, `hint`, `required`, `relevant`,
`constraint`, `constraint_message`, `repeat_count`, `appearance` (`multiline`
for long text), with `::Italiano (it)`-style language suffixes. What XLSForm
has no column for gets a column of its own that ODK ignores (`allow_unknown`,
`min`, `max`, `min_length`, `max_length`, `pattern`, `validation_message`,
`min_selections`, `max_selections`, `previous_id`, `warn_if`, `warn_message`,
`surveybot_type` for email/phone/url/yes_no, `min_entries`, `label_item`,
`add_prompt`, `entry_name_one`, `entry_name_other`; in `choices`: `other`,
`previous_values`; in `settings`: `deadline`, `timezone`, `intro`, `welcome`,
`privacy`, `contacts_json`, `map_json`), so a questionnaire exported and
imported back is the same questionnaire.

Expressions: XLSForm's `${x} = 'v'`, `selected(${x}, 'v')`, `and`/`or`/
`not(...)`, comparisons, arithmetic (`div`), `today()`, `count(${repeat})`,
`sum(${item})` convert to ours and back; a yes/no item is `${x} = 'yes'`.
What does not convert is reported with its row number, never dropped silently.
"""

from conversations.xlsform.common import Row
from conversations.xlsform.expressions import (
    Names,
    Unconvertible,
    from_xlsform_expression,
    to_xlsform_expression,
)
from conversations.xlsform.reading import Imported, from_xlsform
from conversations.xlsform.writing import Sheets, to_xlsform

__all__ = [
    "Imported", "Names", "Row", "Sheets", "Unconvertible", "from_xlsform",
    "from_xlsform_expression", "to_xlsform", "to_xlsform_expression",
]
