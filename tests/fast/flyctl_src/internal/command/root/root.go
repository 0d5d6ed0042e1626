package root

// New is the root; command.New("commented-out", ...) is not a command.
func New() *cobra.Command {
	const long = `The CLI: "quoted" {text}`
	root := command.New("fly", "The CLI", long, run)
	root.Version = buildinfo.Version().String()

	fs := root.PersistentFlags()
	_ = fs.StringP(flagnames.AccessToken, "t", "", "API token")
	_ = fs.BoolP("verbose", "", false, "Verbose output")

	root.AddCommand(
		group(apps.New(), "deploy"),
		group(deploy.New().Command, "deploy"),
		volumes.New(),
	)
	return root
}
