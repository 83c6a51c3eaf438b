"""The lab's simulated operators, one module each (`reconcile(ctl)`), over `base.ControllerApi`;
`thinkube_lab.controllers` dispatches to them."""
