"""pytest plugin for ckpt_transform (registered under the ``pytest11`` entry point).

Placeholder while the plugin is being built: it must exist so that pytest can start.
"""
