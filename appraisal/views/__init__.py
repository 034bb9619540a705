"""The appraisal pages, by family: `cycles` (HR admins' cycle pages), `records` (an appraisal's
page, its PDF and the list), `sheets` (the scoring page and the self-assessment), `steps` (the
workflow's POSTs, reopening and changing the appraiser), `home`, `history` (a person's competency
history), `team` (a line manager's team) and `leavers` (marking someone as leaving, with who takes
over). Views parse the request, fetch through `appraisal.access`, read `appraisal.selectors`, call
one service, and redirect."""
