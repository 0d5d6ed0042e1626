package deploy

type Command struct {
	*cobra.Command
}

func New() *Command {
	return &Command{Command: newDeploy()}
}

func newDeploy() *cobra.Command {
	cmd := command.New("deploy [WORKING_DIRECTORY]", "Deploy", "", run)
	cmd.Args = cobra.MaximumNArgs(1)
	flag.Add(cmd, flag.App(), flag.String{Name: "strategy"}, flag.Int{Name: "max-concurrent"})
	cmd.Flags().StringSliceP("env", "e", nil, "Environment")
	return cmd
}
