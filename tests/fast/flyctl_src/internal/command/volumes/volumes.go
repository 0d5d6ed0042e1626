package volumes

func New() *cobra.Command {
	cmd := command.New("volumes", "Volumes", "", nil)
	cmd.Aliases = []string{"v", "vol", "volume"}
	cmd.PersistentFlags().StringP("region", "r", "", "Region")
	cmd.AddCommand(newList(), newCreate())
	return cmd
}

func newList() *cobra.Command {
	cmd := command.New("list", "List volumes", "", runList)
	cmd.Args = cobra.RangeArgs(0, 2)
	flag.Add(cmd, flag.App(), unknownFlags())
	return cmd
}

func newCreate() *cobra.Command {
	cmd := command.New("create <volumename>", "Create a volume", "", runCreate)
	cmd.Args = cobra.ExactArgs(1)
	flag.Add(cmd, flag.Yes())
	return cmd
}
