package apps

func New() *cobra.Command {
	const (
		short = "Manage apps"
		usage = "apps"
	)
	apps := command.New(usage, short, short, nil)
	apps.Aliases = []string{"app"}
	list := newList()
	apps.AddCommand(list, newReleases())
	return apps
}
