pub mod perspective;
