"""The insights pages (``insights.urls``): a team's or the organisation's bottlenecks (``bottlenecks``), the
correlations between sentiment and delivery across teams (``correlations``), and the leader dashboards
(``dashboard``). Their GET parameters are ``insights.forms``; their request layer ``e360.htmx``."""
