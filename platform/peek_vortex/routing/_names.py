"""The bus names of the platform's services and device front ends (re-exported by the
plugin contract as ``peek_plugin_base.PeekVortexUtil``)."""

#: The vortex name of the server service.
peekServerName = "peek-server"
#: The vortex name of client services.
peekClientName = "peek-client"
#: The vortex name of agent services.
peekAgentName = "peek-agent"
#: The vortex name of worker services.
peekWorkerName = "peek-worker"
#: The vortex name of the admin browser app.
peekAdminName = "peek-admin"
#: The vortex name of mobile devices connected to a client service.
peekMobileName = "peek-mobile"
#: The vortex name of desktop devices connected to a client service.
peekDesktopName = "peek-desktop"
