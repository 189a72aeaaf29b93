"""The finance dashboard on the admin index (docs/OPERATIONS.md, "Dashboard").

``selectors`` reads the figures, ``snapshot`` keeps them cached for a minute, ``panels`` picks
what a staff member's permissions allow and links each figure to its changelist, and ``chart``
draws the 14-day chart as inline SVG. The ``dashboard`` template tag (config.templatetags)
hands the panels to ``templates/admin/index.html``.
"""
