package apps

var sharedFlags = flag.Set{
	flag.Bool{Name: "image", Description: "Show image, with a comma, too"},
}

func newList() (cmd *cobra.Command) {
	cmd = command.New("list [flags]", "List apps", "", runList, command.RequireSession)
	cmd.Aliases = []string{"ls"}
	flag.Add(cmd,
		flag.JSONOutput(),
		flag.String{
			Name:        "org",
			Shorthand:   "o",
			Description: "An org, e.g. {personal}",
		},
	)
	return
}

func newReleases() *cobra.Command {
	cmd := command.New("releases", "List releases", "", runReleases)
	cmd.Args = cobra.NoArgs
	flag.Add(cmd, flag.App(), sharedFlags...)
	return cmd
}
