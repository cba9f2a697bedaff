use std::process::ExitCode;

fn main() -> ExitCode {
    copy_image::main_with(std::env::args_os(), &copy_image::env::Env::from_process())
}
