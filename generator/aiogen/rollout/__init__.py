"""Rollovers: the schedule of a rotation's phases (`schedule`, `days`), what a Plan deploys on a
cluster (`state`), the safety check between two Plans (`check`, `report`), moving a spec one step
on (`advance`), specs at git revisions (`git`), and the certificate timeline (`timeline`)."""
