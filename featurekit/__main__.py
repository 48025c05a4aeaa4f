from featurekit.cli import main

main(prog_name="featurekit")
