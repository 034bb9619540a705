"""Every change to a cycle or an appraisal: one function per verb, keyword-only, atomic, checked
and audited. Callers import the module they need:

- `cycles`: creating and opening cycles (an appraisal for everyone, with its window copied);
- `scoring`: saving the self-assessment and the appraiser's review, and re-deriving the levels;
- `workflow`: the steps from one state to the next (submit, begin review, share, withdraw, sign
  off, countersign, reopen) and changing the appraiser;
- `revisions`: what every change to an appraisal goes through (a conditional UPDATE on its
  revision, `StaleRecord`, the event and the audit entry).

Who may take which step, in which state, is `appraisal.permissions`; each service asserts it.
A refusal because of who asks is `NotAllowed` (403); because the record has moved on, or another
save came first, `StaleRecord`; because of what was entered, `ValidationError`. Reads are in
`appraisal.selectors`, which the services call and which never call a service.
"""
