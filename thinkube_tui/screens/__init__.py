"""The wizard's screens, one module per step, plus the modal dialogs they open."""
